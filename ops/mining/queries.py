"""The named queries: one `.sql` file each in `queries/`, written in the SQL both engines read (Athena's,
with the few functions DuckDB lacks defined for it as macros in `engine.py`). The file is the one
definition: template.yaml's `AWS::Athena::NamedQuery` of the same name carries the same text (a test
compares them), and `python -m ops mine NAME` runs it locally. The leading `--` lines say what it answers:
the first is its title, the rest its description."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["QUERIES", "NamedQuery", "named_queries"]

QUERIES = Path(__file__).resolve().parent / "queries"


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str  # the file's stem, and the Athena named query's Name
    title: str
    description: str
    sql: str  # the whole file, comments included, exactly as Athena gets it

    @property
    def athena_description(self) -> str:
        """What the template's NamedQuery says of it (Athena takes at most 1,024 characters)."""
        return f"{self.title} {self.description}"[:1024]


def _parse(path: Path) -> NamedQuery:
    text = path.read_text()
    comments = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        comments.append(line.removeprefix("--").strip())
    if not comments:
        raise ValueError(f"{path.name}: a named query starts with `-- <title>` lines saying what it answers")
    return NamedQuery(path.stem, comments[0], " ".join(comments[1:]), text)


@cache
def named_queries() -> dict[str, NamedQuery]:
    """Every named query, by name, in name order."""
    return {path.stem: _parse(path) for path in sorted(QUERIES.glob("*.sql"))}
