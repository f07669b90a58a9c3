"""A read model's facts from the archive instead of its log: the objects Firehose wrote to S3 (gzipped JSON
lines of the published CloudEvents, under `events/context=<context>/fact=<EventType>/day=<YYYY-MM-DD>/`),
turned back into the commits a projection replays. The archive keeps every fact for good, beyond the
streams' 24 hours, so a read model (or a new consumer) can be built from it for any period, and a rebuild
can leave the log's partitions alone (`bluegreen.build(..., source=ArchiveSource(...))`).

Each CloudEvent becomes a one-event commit of stream `<Aggregate>-<subject>` at version `sequence`, its
type and schema version read from `type` (`<prefix>.<EventType>.v<schema>`), its data and time as
published. Delivery is at least once: an event id seen twice is replayed once. Only the fact types the
projection's registry reads are fetched (their `fact=` prefixes), and only the days asked for."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventcore.messaging.cloudevents import CloudEventType
from eventcore.write.events import RecordedEvent
from eventcore.write.store import Commit, stream_id_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from eventcore.read.projector import Projection

__all__ = ["ArchiveSource", "commit_of_cloudevent", "read_archive"]

EVENTS_PREFIX = "events"
# How far behind the log the archive may be: Firehose buffers up to 900 s, and may take 1.5 times its
# buffering hint with dynamic partitioning (docs/mining.md); a rebuild from the archive catches up from the
# log everything committed since its start minus this.
ARCHIVE_LAG_SECONDS = 1800.0


@dataclass(frozen=True, slots=True)
class ArchiveSource:
    """Where a view's facts are archived: the bucket, the context's partition, and the days to read
    (inclusive, `YYYY-MM-DD`; None: from the first, to the last)."""

    s3: Any
    bucket: str
    context: str
    since: str | None = None
    until: str | None = None
    lag_seconds: float = ARCHIVE_LAG_SECONDS


def commit_of_cloudevent(aggregate: str, document: dict[str, Any]) -> Commit:
    kind = CloudEventType.parse(str(document["type"]))
    recorded = RecordedEvent(
        event_id=str(document["id"]),
        event_type=kind.event_type,
        schema_version=kind.schema_version,
        data=json.dumps(document.get("data"), separators=(",", ":")),
        recorded_at=str(document["time"]),
    )
    return Commit(
        stream_id=stream_id_of(aggregate, str(document["subject"])),
        version=int(document["sequence"]),
        events=(recorded,),
        command_id="",
        fingerprint="",
        committed_at=str(document["time"]),
        correlation_id=document.get("correlationid"),
        causation_id=document.get("causationid"),
    )


def _keys(source: ArchiveSource, fact: str) -> Iterator[str]:
    prefix = f"{EVENTS_PREFIX}/context={source.context}/fact={fact}/"
    start_after = f"{prefix}day={source.since}" if source.since else None
    paginate: dict[str, Any] = {"Bucket": source.bucket, "Prefix": prefix}
    if start_after:
        paginate["StartAfter"] = start_after
    for page in source.s3.get_paginator("list_objects_v2").paginate(**paginate):
        for item in page.get("Contents", []):
            key = str(item["Key"])
            day = key[len(prefix) :].split("/", 1)[0].removeprefix("day=")
            if source.since and day < source.since:
                continue
            if source.until and day > source.until:
                return
            yield key


def read_archive(
    projection: Projection, source: ArchiveSource, progress: Callable[[str], None] = print
) -> tuple[dict[str, list[Commit]], int]:
    """Every archived fact of the projection's aggregate within the days, as commits per stream (oldest
    first, each event id once), and how many duplicate records were skipped."""
    streams: dict[str, dict[int, Commit]] = defaultdict(dict)
    seen: set[str] = set()
    duplicates = objects = 0
    for fact in projection.registry.event_types:
        for key in _keys(source, fact):
            body = source.s3.get_object(Bucket=source.bucket, Key=key)["Body"].read()
            text = gzip.decompress(body) if key.endswith(".gz") else body
            objects += 1
            for line in text.decode().splitlines():
                if not line.strip():
                    continue
                document = json.loads(line)
                if document["id"] in seen:
                    duplicates += 1
                    continue
                seen.add(document["id"])
                commit = commit_of_cloudevent(projection.aggregate, document)
                streams[commit.stream_id][commit.version] = commit
    progress(
        f"archive: {objects} objects, {len(seen)} facts of {len(streams)} streams "
        f"({duplicates} duplicate records skipped)"
    )
    return {
        stream: [by_version[v] for v in sorted(by_version)] for stream, by_version in streams.items()
    }, duplicates
