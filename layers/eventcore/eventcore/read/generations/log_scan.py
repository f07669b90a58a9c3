"""Reading an event log whole, for rebuilds: a parallel scan (Segment/TotalSegments, one thread each) that
fetches only what a replay needs and hands each stream over as soon as the scan has passed it, so rows are
written while the scan goes on and the log is never held in memory; and a scan for the streams committed to
since a moment, for catching a new generation up.

A segment holds whole streams (segments split the partition key's hash range) and returns each stream's
commits together, oldest first (a partition's items come in sort key order). A stream is complete when its
segment moves on to another one. Should a stream's commits ever come back apart, it is not replayed from the
pieces but named in `revisit`, to be caught up from the log afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventcore.write.dynamodb_store import commit_from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from eventcore.write.store import Commit

Progress = Callable[[str], None]
OnStream = Callable[[str, list["Commit"]], None]

# What a replay reads of a commit: snapshots (often the largest attribute), command ids, fingerprints and
# commit times stay in the table.
REPLAY_ATTRIBUTES = "#stream, #version, events, correlation_id, causation_id"
_NOT_FETCHED = {"command_id": {"S": ""}, "fingerprint": {"S": ""}, "committed_at": {"S": ""}}


@dataclass
class ScanOutcome:
    """What a scan saw: commits decoded, streams whose items did not decode (with why), streams that came back
    in pieces (to catch up from the log)."""

    commits: int = 0
    damaged: dict[str, str] = field(default_factory=dict)
    revisit: set[str] = field(default_factory=set)


def scan_streams(
    client: DynamoDBClient,
    log_table: str,
    *,
    stream_prefix: str,
    on_stream: OnStream,
    segments: int = 4,
    progress: Progress = print,
) -> ScanOutcome:
    """Call `on_stream(stream_id, commits)` once per stream starting with `stream_prefix`, from the segment
    threads, as soon as each stream is complete. A stream with an item that does not decode is not handed
    over: it is in `damaged`, with the reason. Eventually consistent (half the read units): the catch-up or
    the projector brings what the scan missed."""
    outcome = ScanOutcome()
    finished: set[str] = set()
    lock = threading.Lock()

    def hand_over(stream: str, commits: list[Commit]) -> None:
        with lock:
            again = stream in finished
            finished.add(stream)
            if again:
                outcome.revisit.add(stream)
            broken = stream in outcome.damaged
        if not again and not broken:
            on_stream(stream, commits)

    def scan(segment: int) -> None:
        request: dict[str, Any] = {
            "TableName": log_table,
            "Segment": segment,
            "TotalSegments": segments,
            "FilterExpression": "begins_with(#stream, :prefix)",
            "ProjectionExpression": REPLAY_ATTRIBUTES,
            "ExpressionAttributeNames": {"#stream": "stream", "#version": "version"},
            "ExpressionAttributeValues": {":prefix": {"S": stream_prefix}},
        }
        current: str | None = None
        commits: list[Commit] = []
        count = 0
        for page in client.get_paginator("scan").paginate(**request):
            for item in page.get("Items", []):
                stream = item.get("stream", {}).get("S", "?")
                if stream != current:
                    if current is not None:
                        hand_over(current, commits)
                    current, commits = stream, []
                try:
                    commits.append(commit_from_item({**_NOT_FETCHED, **item}))
                except Exception as exc:
                    version = item.get("version", {}).get("N")
                    with lock:
                        outcome.damaged.setdefault(
                            stream, f"commit {version} is not decodable: {type(exc).__name__}: {exc}"
                        )
            count += len(page.get("Items", []))
            progress(f"segment {segment + 1}/{segments}: {count} commits so far")
        if current is not None:
            hand_over(current, commits)
        with lock:
            outcome.commits += count
        progress(f"segment {segment + 1}/{segments}: done, {count} commits")

    with ThreadPoolExecutor(max_workers=segments) as pool:
        list(pool.map(scan, range(segments)))
    return outcome


def scan_log(
    client: DynamoDBClient,
    log_table: str,
    *,
    stream_prefix: str,
    segments: int = 4,
    progress: Progress = print,
) -> dict[str, list[Commit]]:
    """Every commit of the streams starting with `stream_prefix`, grouped per stream, oldest first."""
    streams: dict[str, list[Commit]] = {}
    lock = threading.Lock()

    def keep(stream: str, commits: list[Commit]) -> None:
        with lock:
            streams[stream] = commits

    scan_streams(
        client, log_table, stream_prefix=stream_prefix, on_stream=keep, segments=segments, progress=progress
    )
    return streams


def streams_committed_since(
    client: DynamoDBClient,
    log_table: str,
    *,
    stream_prefix: str,
    since: str,
    segments: int = 4,
    progress: Progress = print,
) -> dict[str, int]:
    """stream id -> the last version of its commits made at or after `since` (UTC ISO 8601, compared as text:
    commit times are written with microseconds, so they sort). A consistent parallel scan (a commit made just
    before it began must be seen) that returns only keys: the whole log is read, little of it comes back."""
    found: dict[str, int] = {}
    lock = threading.Lock()

    def scan(segment: int) -> None:
        request: dict[str, Any] = {
            "TableName": log_table,
            "Segment": segment,
            "TotalSegments": segments,
            "ConsistentRead": True,
            "FilterExpression": "begins_with(#stream, :prefix) AND committed_at >= :since",
            "ProjectionExpression": "#stream, #version, #last",
            "ExpressionAttributeNames": {"#stream": "stream", "#version": "version", "#last": "last"},
            "ExpressionAttributeValues": {":prefix": {"S": stream_prefix}, ":since": {"S": since}},
        }
        for page in client.get_paginator("scan").paginate(**request):
            with lock:
                for item in page.get("Items", []):
                    stream = item["stream"]["S"]
                    last = int(item.get("last", item["version"])["N"])
                    found[stream] = max(found.get(stream, 0), last)
        progress(f"catch-up scan, segment {segment + 1}/{segments}: done")

    with ThreadPoolExecutor(max_workers=segments) as pool:
        list(pool.map(scan, range(segments)))
    return found
