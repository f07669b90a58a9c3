"""Rebuild a read model from the event log: a parallel scan of the log (Segment/TotalSegments, one thread
each), each aggregate's commits sorted by version and folded through the projection, then the rows written.
In place (the default) every write is a conditional put, absent or older only, several in flight: safe while
the projector runs, since neither can move a row back. `fresh` writes into an empty table (a new table to
switch the query function to) with BatchWriteItem, 25 rows a request, unprocessed items retried.
A stream that cannot be replayed (a damaged commit, a gap, an event the projection refuses) is reported and
left as it is; the others are rebuilt, and the command exits with status 1.

    python -m microsystem.rebuild --projection orders.projection:order_projection \\
        --log-table orders-event-log --view-table orders-view [--segments 8] [--fresh]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from microsystem.dynamodb import commit_from_item
from microsystem.errors import MicrosystemError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from microsystem.projection import Projection
    from microsystem.store import Commit
    from microsystem.viewstore import DynamoDBViewStore, ViewRow

Progress = Callable[[str], None]
# Commit attributes a replay does not need, so the scan does not fetch them.
_NOT_FETCHED = {"command_id": {"S": ""}, "fingerprint": {"S": ""}, "committed_at": {"S": ""}}


class NotEmptyError(MicrosystemError):
    """A fresh rebuild was asked for a table that already has rows."""


@dataclass(frozen=True, slots=True)
class RebuildReport:
    commits: int
    events: int
    rows: int
    rows_written: int
    seconds: float
    failed_streams: int = 0  # streams not rebuilt (their rows left as they were); each one is in the progress


def scan_log(
    client: DynamoDBClient,
    log_table: str,
    *,
    stream_prefix: str,
    segments: int = 4,
    progress: Progress = print,
    undecodable: dict[str, str] | None = None,
) -> dict[str, list[Commit]]:
    """Every commit of the streams starting with `stream_prefix`, grouped per stream and sorted by version.
    Segments are scanned in parallel threads; boto3 clients are thread-safe. With `undecodable`, an item
    that is not a commit does not stop the scan: its stream goes there, with the reason, instead."""
    streams: dict[str, list[Commit]] = {}
    lock = threading.Lock()

    def scan(segment: int) -> int:
        request: dict[str, Any] = {
            "TableName": log_table,
            "Segment": segment,
            "TotalSegments": segments,
            # Eventually consistent (half the read units): a commit the scan misses reaches the view through
            # the stream, and the conditional writes let the newer row win either way.
            "FilterExpression": "begins_with(#stream, :prefix)",
            # Only what a replay needs: snapshots, command ids and fingerprints stay in the table.
            "ProjectionExpression": "#stream, #version, events, correlation_id, causation_id",
            "ExpressionAttributeNames": {"#stream": "stream", "#version": "version"},
            "ExpressionAttributeValues": {":prefix": {"S": stream_prefix}},
        }
        count = 0
        for page in client.get_paginator("scan").paginate(**request):
            commits, damaged = [], {}
            for item in page.get("Items", []):
                try:
                    commits.append(commit_from_item({**_NOT_FETCHED, **item}))
                except Exception as exc:
                    if undecodable is None:
                        raise
                    stream, version = item.get("stream", {}).get("S", "?"), item.get("version", {}).get("N")
                    damaged[stream] = f"commit {version} is not decodable: {type(exc).__name__}: {exc}"
            with lock:
                for commit in commits:
                    streams.setdefault(commit.stream_id, []).append(commit)
                for stream, reason in damaged.items():
                    undecodable.setdefault(stream, reason)  # type: ignore[union-attr]
            count += len(commits)
            progress(f"segment {segment + 1}/{segments}: {count} commits so far")
        progress(f"segment {segment + 1}/{segments}: done, {count} commits")
        return count

    with ThreadPoolExecutor(max_workers=segments) as pool:
        list(pool.map(scan, range(segments)))
    for commits in streams.values():
        commits.sort(key=lambda commit: commit.version)
    return streams


def rebuild(
    projection: Projection,
    client: DynamoDBClient,
    log_table: str,
    views: DynamoDBViewStore,
    *,
    segments: int = 4,
    fresh: bool = False,
    progress: Progress = print,
) -> RebuildReport:
    started = time.perf_counter()
    if fresh and not views.is_empty():
        raise NotEmptyError(f"{views.table_name} has rows: rebuild it in place (without fresh) instead")
    failed: dict[str, str] = {}  # stream -> why it was not rebuilt
    streams = scan_log(
        client,
        log_table,
        stream_prefix=f"{projection.aggregate}-",
        segments=segments,
        progress=progress,
        undecodable=failed,
    )
    rows: dict[str, ViewRow] = {}
    commits = events = 0
    for stream, stream_commits in streams.items():
        if stream in failed:
            continue
        try:
            row = projection.replay(stream_commits)
        except Exception as exc:  # a gap, an unknown event, an event the projection refuses: this stream only
            failed[stream] = f"{type(exc).__name__}: {exc}"
            continue
        commits += len(stream_commits)
        events += sum(len(commit.events) for commit in stream_commits)
        if row is not None:
            rows[projection.key(stream)] = row
    for stream in sorted(failed):
        progress(f"stream {stream} FAILED, its row is left as it was: {failed[stream]}")
    progress(
        f"replayed {commits} commits ({events} events) into {len(rows)} rows; {len(failed)} streams failed;"
        " writing"
    )
    written = 0
    keys = list(rows)
    chunk = 25 * 20  # progress every 20 batches of 25
    for start in range(0, len(keys), chunk):
        part = {key: rows[key] for key in keys[start : start + chunk]}
        written += views.put_all(part) if fresh else views.put_if_newer(part)
        progress(f"rows: {min(start + chunk, len(keys))}/{len(keys)} processed, {written} written")
    report = RebuildReport(
        commits, events, len(rows), written, round(time.perf_counter() - started, 3), len(failed)
    )
    progress(f"rebuild done: {asdict(report)}")
    if failed:
        progress(f"{len(failed)} streams FAILED and were not rebuilt: {', '.join(sorted(failed))}")
    return report


def load_projection(path: str) -> Projection:
    """`package.module:attribute` -> the Projection object."""
    module_name, _, attribute = path.partition(":")
    projection: Projection = getattr(importlib.import_module(module_name), attribute)
    return projection


def main(argv: list[str] | None = None) -> RebuildReport:
    import boto3

    from microsystem.viewstore import DynamoDBViewStore

    parser = argparse.ArgumentParser(
        prog="python -m microsystem.rebuild", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--projection", required=True, help="module:attribute of the Projection")
    parser.add_argument("--log-table", required=True)
    parser.add_argument("--view-table", required=True)
    parser.add_argument("--segments", type=int, default=4, help="parallel scan segments (threads)")
    parser.add_argument("--fresh", action="store_true", help="the view table is new and empty: no conditions")
    args = parser.parse_args(argv)
    projection = load_projection(args.projection)
    client = boto3.client("dynamodb")
    views = DynamoDBViewStore(args.view_table, client, key_attribute=projection.key_attribute)
    return rebuild(projection, client, args.log_table, views, segments=args.segments, fresh=args.fresh)


def run(argv: list[str] | None = None) -> int:
    """The command: exit status 1 when any stream could not be rebuilt, after rebuilding all the others."""
    return 1 if main(argv).failed_streams else 0


if __name__ == "__main__":
    sys.exit(run())
