"""Lambda's event filtering (FilterCriteria): EventBridge-style patterns matched against one record.

For SQS the pattern sees `body` parsed as JSON when it is JSON; for Kinesis it sees `data` decoded from
base64 and parsed as JSON; for DynamoDB Streams the record as delivered. A record is kept when any filter
matches. Supported: exact values (strings, numbers, null), prefix, suffix, equals-ignore-case, anything-but
(values or a prefix), exists, numeric ranges, and `$or`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["FilterError", "RecordFilter", "matches"]

_MISSING = object()


class FilterError(Exception):
    """A filter pattern the local cloud cannot understand."""


class RecordFilter:
    """The compiled FilterCriteria of one event source mapping."""

    def __init__(self, criteria: dict[str, Any] | None, source: str) -> None:
        self.source = source
        self.patterns = []
        for item in (criteria or {}).get("Filters", []):
            pattern = item["Pattern"]
            try:
                self.patterns.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
            except json.JSONDecodeError as exc:
                raise FilterError(f"filter pattern is not JSON: {pattern!r}") from exc

    def keeps(self, record: dict[str, Any]) -> bool:
        if not self.patterns:
            return True
        view = self._view(record)
        return any(matches(pattern, view) for pattern in self.patterns)

    def _view(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.source == "sqs":
            return {**record, "body": _json_or_text(record.get("body", ""))}
        if self.source == "kinesis":
            data = base64.b64decode(record["kinesis"]["data"]).decode("utf-8", errors="replace")
            return {**record, "data": _json_or_text(data)}
        return record


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether `event` matches an EventBridge-style pattern."""
    if not isinstance(pattern, dict):
        raise FilterError(f"a pattern level must be an object, got {pattern!r}")
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(option, event) for option in rule):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(rule, dict):
            if value is _MISSING or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not _matches_any(rule, value):
                return False
        else:
            raise FilterError(f"pattern field {key!r} must hold an object or a list, got {rule!r}")
    return True


def _matches_any(rules: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, dict) and "exists" in rule:
            if (value is not _MISSING) == bool(rule["exists"]):
                return True
            continue
        if any(v is not _MISSING and _matches_one(rule, v) for v in values):
            return True
    return False


def _matches_one(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        if isinstance(rule, bool) or isinstance(value, bool):
            return rule is value
        if isinstance(rule, int | float) and isinstance(value, int | float):
            return float(rule) == float(value)
        return rule == value
    ((operator, argument),) = rule.items()
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(argument).lower()
    if operator == "anything-but":
        if isinstance(argument, dict):
            return not _matches_one(argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_matches_one(item, value) for item in excluded)
    if operator == "numeric":
        return _numeric(argument, value)
    raise FilterError(f"filter operator {operator!r} is not supported locally")


def _numeric(conditions: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    checks = {
        "=": number.__eq__,
        ">": number.__gt__,
        ">=": number.__ge__,
        "<": number.__lt__,
        "<=": number.__le__,
    }
    for operator, bound in zip(conditions[::2], conditions[1::2], strict=True):
        if not checks[operator](float(bound)):
            return False
    return True
