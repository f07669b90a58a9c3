"""DuckDB over a local copy of the archive, shaped as Athena sees it: a table `events` with the CloudEvent's
attributes as columns (`data` the event's JSON) and the partition columns `context`, `fact` and `day` read
from the folder names (Hive-style, as the Glue table's partition projection reads them on AWS).

Nothing is downloaded at run time: DuckDB's Python wheel carries its JSON and Parquet readers (the
`json`, `parquet`, `icu` and `core_functions` extensions are built in; checked with
`duckdb_extensions()` on DuckDB 2.0.1), and extension autoloading and autoinstalling are switched off, so a
query that would need anything else fails instead of reaching for the network.

Athena's functions the named queries use and DuckDB spells otherwise are macros here:
`json_extract_scalar` (DuckDB's `json_extract_string`), `from_iso8601_timestamp` (a cast to TIMESTAMPTZ),
`approx_percentile` (DuckDB's `quantile_cont`: interpolated, where Athena's is approximate), `array_join`
(DuckDB's `array_to_string`). The session's
time zone is UTC, as Athena's is."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["COLUMNS", "ArchiveEngine", "QueryResult", "events_glob"]

# The CloudEvent attributes the publisher writes, as the Glue table declares them (all strings; `data` is the
# event's JSON).
COLUMNS = {
    "specversion": "VARCHAR",
    "id": "VARCHAR",
    "source": "VARCHAR",
    "type": "VARCHAR",
    "subject": "VARCHAR",
    "time": "VARCHAR",
    "datacontenttype": "VARCHAR",
    "data": "JSON",
    "sequence": "VARCHAR",
    "partitionkey": "VARCHAR",
    "correlationid": "VARCHAR",
    "causationid": "VARCHAR",
}
PARTITIONS = ("context", "fact", "day")
EVENTS_PREFIX = "events"

MACROS = (
    "CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
    "CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
    "CREATE MACRO approx_percentile(x, p) AS quantile_cont(x, p)",
    "CREATE MACRO array_join(a, separator) AS array_to_string(a, separator)",
)


def events_glob(root: Path) -> str:
    return str(root / EVENTS_PREFIX / "context=*" / "fact=*" / "day=*" / "*")


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    seconds: float

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class ArchiveEngine:
    """A DuckDB connection with `events` over the archive under `root` (its `events/` folder), optionally
    bounded to the days `since`..`until` (inclusive, `YYYY-MM-DD`): the bound is a filter on the `day`
    partition, which DuckDB applies to the folder names before opening a file (partition pruning)."""

    def __init__(
        self,
        root: Path,
        *,
        since: str | None = None,
        until: str | None = None,
        file_format: str = "json",
    ) -> None:
        self.root = root
        self.connection = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        self.connection.execute("SET TimeZone = 'UTC'")
        for macro in MACROS:
            self.connection.execute(macro)
        self.connection.execute(self._events_view(since, until, file_format))

    def _events_view(self, since: str | None, until: str | None, file_format: str) -> str:
        bounds = []
        if since:
            bounds.append(f"day >= '{_day(since)}'")
        if until:
            bounds.append(f"day <= '{_day(until)}'")
        where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
        types = ", ".join(f"'{name}': 'VARCHAR'" for name in PARTITIONS)
        hive = f"hive_partitioning = true, hive_types = {{{types}}}"
        if not any((self.root / EVENTS_PREFIX).glob("context=*/fact=*/day=*/*")):
            columns = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in COLUMNS.items())
            partitions = ", ".join(f"CAST(NULL AS VARCHAR) AS {name}" for name in PARTITIONS)
            return f"CREATE VIEW events AS SELECT {columns}, {partitions} WHERE false"
        if file_format == "parquet":
            source = f"read_parquet('{events_glob(self.root)}', {hive})"
        else:
            spec = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items())
            source = (
                f"read_json('{events_glob(self.root)}', format = 'newline_delimited', "
                f"columns = {{{spec}}}, {hive})"
            )
        return f"CREATE VIEW events AS SELECT * FROM {source}{where}"

    def run(self, sql: str) -> QueryResult:
        started = time.perf_counter()
        cursor = self.connection.execute(sql)
        rows = cursor.fetchall()
        columns = [column[0] for column in cursor.description or []]
        return QueryResult(columns, rows, round(time.perf_counter() - started, 3))

    def close(self) -> None:
        self.connection.close()


def _day(value: str) -> str:
    """A day bound, checked: it goes into SQL."""
    from datetime import date

    return date.fromisoformat(value).isoformat()
