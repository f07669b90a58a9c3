"""Mining the archive: the named queries a shop asks of its facts (`queries/*.sql`, one file each, the same
text Athena runs on AWS as a named query of the template), run here with DuckDB over a local copy of the
archive (`python -m ops mine`). The archive is what Firehose delivers to S3: gzipped JSON lines of
CloudEvents under `events/context=<context>/fact=<EventType>/day=<YYYY-MM-DD>/` (docs/mining.md)."""

from ops.mining.engine import ArchiveEngine, QueryResult
from ops.mining.queries import NamedQuery, named_queries

__all__ = ["ArchiveEngine", "NamedQuery", "QueryResult", "named_queries"]
