"""Validation errors as people read them: each problem with the path of the field it is about
(`lines[0].quantity`) and what is wrong with it. One formatter for the API's error bodies, the messages a
consumer parks and the configuration errors an operator reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Where Powertools' request validation puts the part of the request a problem is in; dropped from paths.
REQUEST_PARTS = ("body", "query", "path", "header", "cookie")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


def field_path(location: Sequence[Any]) -> str:
    """('body', 'lines', 0, 'sku') -> 'lines[0].sku'; the request part prefix is dropped."""
    parts = list(location)
    if parts and parts[0] in REQUEST_PARTS:
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def field_problems(details: Iterable[Mapping[str, Any]], *, whole: str = "body") -> list[FieldProblem]:
    """pydantic's error details (`ValidationError.errors()`, Powertools' `RequestValidationError.errors()`)
    as field problems; `whole` names a problem about the whole input."""
    problems = []
    for detail in details:
        if detail.get("type") == "json_invalid":
            reason = detail.get("ctx", {}).get("error", "invalid JSON")
            problems.append(FieldProblem(whole, f"malformed JSON: {reason}"))
            continue
        path = field_path(detail.get("loc", ()))
        # pydantic prefixes what a custom validator raised; the problem reads better without it.
        message = str(detail.get("msg", "invalid value")).removeprefix("Value error, ")
        problems.append(FieldProblem(path or whole, message))
    return problems


def summary(details: Iterable[Mapping[str, Any]], *, whole: str = "(document)", limit: int = 5) -> str:
    """The first `limit` problems on one line: `lines[0].quantity: Input should be greater than 0; ...`."""
    return "; ".join(f"{p.field}: {p.problem}" for p in field_problems(details, whole=whole)[:limit])
