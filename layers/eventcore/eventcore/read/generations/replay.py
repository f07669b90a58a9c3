"""Rebuild a read model from the event log: a parallel scan of the log that reads only what a replay needs
(`eventcore.read.generations.log_scan`), each stream folded through the projection as soon as the scan has
passed it, and its row written by a pool of writer threads while the scan goes on.

In place (the default) every write is a conditional put, absent or older only: safe while the projector
runs, since neither can move a row back. `fresh` fills an empty table that nobody else writes yet (a new
generation, `eventcore.read.generations.bluegreen`) with BatchWriteItem, 25 rows a request, unprocessed
items retried with backoff. A stream that cannot be replayed (a damaged commit, a gap, an event the
projection refuses) is reported and left as it is; the others are rebuilt. The operator's command for it is
`python -m ops.replay`."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from eventcore.errors import EventCoreError
from eventcore.read.generations.log_scan import Progress, ScanOutcome, scan_streams
from eventcore.read.projector import Projector, load_projection
from eventcore.read.view_store import BATCH_WRITE_LIMIT
from eventcore.write.dynamodb_store import DynamoDBEventStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

    from eventcore.read.generations.archive_scan import ArchiveSource
    from eventcore.read.projector import Projection
    from eventcore.read.view_store import DynamoDBViewStore, ViewRow
    from eventcore.write.store import Commit

__all__ = ["NotEmptyError", "RebuildReport", "load_projection", "rebuild", "replay_into"]

PROGRESS_EVERY = 500  # rows


class NotEmptyError(EventCoreError):
    """A fresh rebuild was asked for a table that already has rows."""


@dataclass(frozen=True, slots=True)
class RebuildReport:
    commits: int
    events: int
    rows: int
    rows_written: int
    seconds: float
    failed_streams: int = 0  # streams not rebuilt (their rows left as they were); each one is in the progress
    revisited_streams: int = 0  # streams the scan returned in pieces, caught up from the log instead


@dataclass
class Replayed:
    """A rebuild's outcome, with what a catch-up needs: the version written per stream, and the failures."""

    report: RebuildReport
    versions: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class _RowWriter:
    """Writes rows handed over by the scan threads on `workers` threads, while the scan goes on. At most a few
    requests per worker wait in line: when the writes fall behind, the scan waits, so memory stays bounded."""

    def __init__(self, views: DynamoDBViewStore, *, fresh: bool, workers: int, progress: Progress) -> None:
        self._write_rows = views.put_all if fresh else views.put_if_newer
        self._fresh = fresh
        self._progress = progress
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rebuild-writer")
        self._slots = threading.BoundedSemaphore(workers * 4)
        self._lock = threading.Lock()
        self._batch: dict[str, ViewRow] = {}
        self._futures: list[Future[int]] = []
        self.rows = 0
        self.written = 0

    def add(self, key: str, row: ViewRow) -> None:
        with self._lock:
            self.rows += 1
            if not self._fresh:
                rows = {key: row}
            else:
                self._batch[key] = row
                if len(self._batch) < BATCH_WRITE_LIMIT:
                    return
                rows, self._batch = self._batch, {}
        self._submit(rows)

    def _submit(self, rows: dict[str, ViewRow]) -> None:
        self._slots.acquire()
        future = self._pool.submit(self._write, rows)
        with self._lock:
            self._futures.append(future)

    def _write(self, rows: dict[str, ViewRow]) -> int:
        try:
            written = self._write_rows(rows)
        finally:
            self._slots.release()
        with self._lock:
            before, self.written = self.written, self.written + written
        if before // PROGRESS_EVERY != self.written // PROGRESS_EVERY:
            self._progress(f"rows: {self.written} written so far")
        return written

    def abandon(self) -> None:
        """The scan failed: let the writes in flight end, and drop what was not sent."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> int:
        """Write what is left, wait for every write; the first failed write's error is raised."""
        with self._lock:
            rows, self._batch = self._batch, {}
        if rows:
            self._submit(rows)
        self._pool.shutdown(wait=True)
        for future in self._futures:
            future.result()
        return self.written


def replay_into(
    projection: Projection,
    client: DynamoDBClient,
    log: DynamoDBEventStore,
    views: DynamoDBViewStore,
    *,
    segments: int = 4,
    fresh: bool = False,
    workers: int = 8,
    progress: Progress = print,
    empty_checked: bool = False,
    source: ArchiveSource | None = None,
) -> Replayed:
    """Scan, replay and write, pipelined; then catch up from the log the streams the scan gave in pieces.
    `empty_checked`: the caller made sure a fresh table is empty (one request less). With an archive
    `source`, the streams come from the archive's objects instead of a scan of the log; a stream the
    archive does not hold from its first version on (an event not delivered yet) is caught up from the
    log, which holds everything."""
    started = time.perf_counter()
    if fresh and not empty_checked and not views.is_empty():
        raise NotEmptyError(f"{views.table_name} has rows: rebuild it in place (without fresh) instead")
    writer = _RowWriter(views, fresh=fresh, workers=workers, progress=progress)
    failed: dict[str, str] = {}
    versions: dict[str, int] = {}
    counts = {"commits": 0, "events": 0}
    lock = threading.Lock()

    def replay(stream: str, commits: list[Commit]) -> None:
        try:
            row = projection.replay(sorted(commits, key=lambda commit: commit.version))
        except Exception as exc:  # a gap, an unknown event, an event the projection refuses: this stream only
            with lock:
                failed[stream] = f"{type(exc).__name__}: {exc}"
            return
        with lock:
            counts["commits"] += len(commits)
            counts["events"] += sum(len(commit.events) for commit in commits)
            if row is not None:
                versions[stream] = row.version
        if row is not None:
            writer.add(projection.key(stream), row)

    try:
        if source is None:
            scanned = scan_streams(
                client,
                log.table_name,
                stream_prefix=f"{projection.aggregate}-",
                on_stream=replay,
                segments=segments,
                progress=progress,
            )
        else:
            scanned = _from_archive(projection, source, replay, progress)
    except BaseException:
        writer.abandon()
        raise
    written = writer.close()
    failed.update(scanned.damaged)
    revisited = 0
    if scanned.revisit:
        progress(f"{len(scanned.revisit)} streams came back in pieces: catching them up from the log")
        for stream in scanned.revisit:  # a piece may have failed to replay alone; the log decides
            failed.pop(stream, None)
        caught_up = Projector(projection, log, views).catch_up(sorted(scanned.revisit))
        written += caught_up.rows_written
        revisited = len(scanned.revisit)
        for failure in caught_up.failures:
            failed.setdefault(failure.stream_id or failure.sequence_number, failure.reason)
    for stream in sorted(failed):
        progress(f"stream {stream} FAILED, its row is left as it was: {failed[stream]}")
    report = RebuildReport(
        counts["commits"],
        counts["events"],
        writer.rows,
        written,
        round(time.perf_counter() - started, 3),
        len(failed),
        revisited,
    )
    progress(f"rebuild done: {asdict(report)}")
    if failed:
        progress(f"{len(failed)} streams FAILED and were not rebuilt: {', '.join(sorted(failed))}")
    return Replayed(report, versions, failed)


def _from_archive(
    projection: Projection,
    source: ArchiveSource,
    replay: Callable[[str, list[Commit]], None],
    progress: Progress,
) -> ScanOutcome:
    from eventcore.read.generations.archive_scan import read_archive

    streams, _ = read_archive(projection, source, progress)
    outcome = ScanOutcome(commits=sum(len(commits) for commits in streams.values()))
    for stream, commits in streams.items():
        versions = [commit.version for commit in commits]
        if versions != list(range(1, len(versions) + 1)):
            outcome.revisit.add(stream)  # a gap in the archive: the log fills it
            continue
        replay(stream, commits)
    return outcome


def rebuild(
    projection: Projection,
    client: DynamoDBClient,
    log_table: str,
    views: DynamoDBViewStore,
    *,
    segments: int = 4,
    fresh: bool = False,
    workers: int = 8,
    progress: Progress = print,
    source: ArchiveSource | None = None,
) -> RebuildReport:
    return replay_into(
        projection,
        client,
        DynamoDBEventStore(log_table, client),
        views,
        segments=segments,
        fresh=fresh,
        workers=workers,
        progress=progress,
        source=source,
    ).report
