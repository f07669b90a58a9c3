"""Projections: read models fed by the event log's change records. The domain gives a pure function (view,
event) -> view; the core delivers each aggregate's events to it exactly once and in order, whatever the
delivery does:
duplicates and already-applied versions are skipped, a gap is filled from the log, and a batch ends in one
conditional write per aggregate it touched."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eventcore.errors import EventCoreError
from eventcore.lambdas.batch_consumer import RecordFailure
from eventcore.read.change_records import ChangeRecord, group_by_stream
from eventcore.read.view_store import BATCH_GET_LIMIT, View, ViewConflictError, ViewRow
from eventcore.write.store import aggregate_id

if TYPE_CHECKING:
    from eventcore.read.view_store import ViewStore
    from eventcore.write.events import Event, EventRegistry
    from eventcore.write.store import Commit, EventStore

ProjectFunction = Callable[[View | None, "Event"], View]


class GapError(EventCoreError):
    """The log does not hold the versions between what the view has applied and what was delivered."""

    def __init__(self, stream_id: str, applied: int, delivered: int) -> None:
        super().__init__(
            f"stream {stream_id!r}: view at version {applied}, log has no versions before {delivered}"
        )
        self.stream_id = stream_id
        self.applied = applied
        self.delivered = delivered


@dataclass(frozen=True)
class Projection:
    """A read model of one aggregate type: `project` folds its events into one view document per aggregate,
    stored under `key_attribute` = the aggregate id."""

    aggregate: str
    key_attribute: str
    registry: EventRegistry
    project: ProjectFunction

    def handles(self, stream_id: str) -> bool:
        return stream_id.startswith(f"{self.aggregate}-")

    def key(self, stream_id: str) -> str:
        return aggregate_id(stream_id)

    def apply(self, row: ViewRow | None, commit: Commit) -> ViewRow | None:
        """The row after `commit`: events at or below the row's version are skipped (already applied); the
        first one applied must be exactly the row's next version."""
        view, version = (row.view, row.version) if row else (None, 0)
        for offset, recorded in enumerate(commit.events):
            event_version = commit.version + offset
            if event_version <= version:
                continue
            if event_version != version + 1:
                raise GapError(commit.stream_id, version, event_version)
            view = self.project(view, self.registry.decode(recorded))
            version = event_version
        return row if view is None else ViewRow(view, version)

    def replay(self, commits: Iterable[Commit]) -> ViewRow | None:
        """The row a full replay of these commits (one stream, oldest first) produces: the reference every
        stream-fed row must equal."""
        row: ViewRow | None = None
        for commit in commits:
            row = self.apply(row, commit)
        return row


class ProjectionNotFoundError(EventCoreError):
    """A projection named `module:attribute` that cannot be imported, or is not one for this view."""


def load_projection(path: str, *, like: Projection | None = None) -> Projection:
    """`package.module:attribute` -> the Projection object. With `like`, it must be a projection of the same
    aggregate into the same key: another version of that view's logic, not another view."""
    module_name, _, attribute = path.partition(":")
    try:
        projection = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ProjectionNotFoundError(f"no projection {path!r}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(projection, Projection):
        raise ProjectionNotFoundError(f"{path!r} is a {type(projection).__name__}, not a Projection")
    if like is not None and (projection.aggregate, projection.key_attribute) != (
        like.aggregate,
        like.key_attribute,
    ):
        raise ProjectionNotFoundError(
            f"{path!r} projects {projection.aggregate} into {projection.key_attribute!r}; this view holds "
            f"{like.aggregate} by {like.key_attribute!r}"
        )
    return projection


@dataclass
class BatchResult:
    """What one batch did. `failures` are the records to report (in delivery order); Lambda delivers again
    from the lowest of them."""

    failures: list[RecordFailure] = field(default_factory=list)
    events_applied: int = 0
    rows_written: int = 0
    conflicts: int = 0
    gaps_filled: int = 0
    candidates_failed: int = 0  # candidate generations this batch marked failed (GenerationalProjector)
    # candidate generations this batch could not feed every aggregate to (their table could not be read or
    # written): left behind on those aggregates, to be caught up (GenerationalProjector)
    candidates_behind: int = 0
    problems: list[str] = field(default_factory=list)  # what went wrong without failing a record, for the log
    # Streams whose failures are not the projection's: their row could not be read or written, or their
    # earlier commits not read from the log (throttled, unavailable, denied). Trying again may succeed.
    unapplied_streams: set[str] = field(default_factory=set)

    @property
    def failed_sequence_numbers(self) -> list[str]:
        return [failure.sequence_number for failure in self.failures]

    def figures(self) -> dict[str, int]:
        return {
            "ProjectedEvents": self.events_applied,
            "ViewRowsWritten": self.rows_written,
            "ViewWriteConflicts": self.conflicts,
            "ProjectionGapsFilled": self.gaps_filled,
            "ProjectionFailedRecords": len(self.failures),
            "CandidateGenerationsFailed": self.candidates_failed,
            "CandidateGenerationsBehind": self.candidates_behind,
        }


@dataclass(frozen=True, slots=True)
class _Fold:
    """One aggregate's records folded into its row: the row, how far it got, and what it cost."""

    row: ViewRow | None
    events: int = 0
    gaps_filled: int = 0
    failed_at: int | None = None  # position in the group of the first record that failed
    error: Exception | None = None
    unreadable: bool = False  # the log's failure (a gap's commits could not be read), not the projection's


class Projector:
    """Runs a projection over batches of change records.

    Why not one Powertools `record_handler` call per record: the unit of work here is the aggregate, not the
    record (read its row once, fold all its records, write once), and a failed record must hold back the
    later records of its aggregate only. So the projector groups the batch itself and returns Lambda's
    `batchItemFailures` shape, which is what `process_partial_response` would have returned.
    """

    def __init__(self, projection: Projection, store: EventStore, views: ViewStore, *, max_attempts: int = 3):
        self.projection = projection
        self.store = store
        self.views = views
        self._max_attempts = max_attempts

    def handle(self, records: Sequence[ChangeRecord]) -> BatchResult:
        result = BatchResult()
        grouped = group_by_stream(records)
        for record in grouped.unattributed:
            result.failures.append(RecordFailure(record.sequence_number, None, record.problem))
        groups = {s: g for s, g in grouped.by_stream.items() if self.projection.handles(s)}
        try:
            rows = self.views.get_many([self.projection.key(s) for s in groups]) if groups else {}
        except Exception as exc:  # the view table cannot be read: every record is reported, none applied
            for stream_id, group in groups.items():
                self._unapplied(stream_id, group, exc, result)
        else:
            for stream_id, group in groups.items():
                self._project_stream(stream_id, group, rows.get(self.projection.key(stream_id)), result)
        order = {record.sequence_number: position for position, record in enumerate(records)}
        result.failures.sort(key=lambda failure: order.get(failure.sequence_number, 0))
        return result

    def catch_up(self, stream_ids: Iterable[str], *, known: Mapping[str, int] | None = None) -> BatchResult:
        """Bring these streams' rows level with the log: each row (read 100 a request) is folded with the
        commits the log holds after its version and written conditionally, exactly as a batch would be, so a
        projector writing the same row meanwhile is safe (the newer row wins and is folded from). `known`:
        a version each stream is known to have reached; a row already there costs no read of the log.
        Failures name the stream and the commit (`Order-<id>@<version>`) where a sequence number would be."""
        result = BatchResult()
        streams = [s for s in dict.fromkeys(stream_ids) if self.projection.handles(s)]
        for start in range(0, len(streams), BATCH_GET_LIMIT):
            chunk = streams[start : start + BATCH_GET_LIMIT]
            try:
                rows = self.views.get_many([self.projection.key(s) for s in chunk])
            except Exception as exc:  # the view table cannot be read: these streams, unapplied
                for stream_id in chunk:
                    reason = f"{type(exc).__name__}: {exc}"
                    result.failures.append(RecordFailure(stream_id, stream_id, reason))
                    result.unapplied_streams.add(stream_id)
                continue
            for stream_id in chunk:
                stored = rows.get(self.projection.key(stream_id))
                if known is not None and stored is not None and stored.version >= known.get(stream_id, 0):
                    continue  # the projector got there first
                try:
                    commits = list(self.store.read(stream_id, after=stored.version if stored else 0))
                except Exception as exc:  # unreadable from the log: this stream only
                    result.failures.append(
                        RecordFailure(stream_id, stream_id, f"{type(exc).__name__}: {exc}")
                    )
                    result.unapplied_streams.add(stream_id)
                    continue
                group = [ChangeRecord(f"{stream_id}@{c.version}", stream_id, c) for c in commits]
                if group:
                    self._project_stream(stream_id, group, stored, result)
        return result

    def _project_stream(
        self, stream_id: str, group: list[ChangeRecord], stored: ViewRow | None, result: BatchResult
    ) -> None:
        key = self.projection.key(stream_id)
        for _ in range(self._max_attempts):
            fold = self._fold(stream_id, group, stored)
            try:
                if fold.row is not None and fold.row is not stored:
                    self.views.put(key, fold.row, expected_version=stored.version if stored else 0)
                    result.rows_written += 1
            except ViewConflictError as conflict:
                # Another writer (a rebuild, an overlapping invocation) moved the row on: start again from
                # its row; what it already holds is skipped this time.
                result.conflicts += 1
                if conflict.current is not None:
                    stored = conflict.current
                    continue
                try:
                    stored = self.views.get_many([key]).get(key)
                except Exception as exc:
                    self._unapplied(stream_id, group, exc, result)
                    return
                continue
            except Exception as exc:  # throttled, unavailable: nothing of this aggregate was written
                self._unapplied(stream_id, group, exc, result)
                return
            result.events_applied += fold.events
            result.gaps_filled += fold.gaps_filled
            if fold.failed_at is not None:
                result.failures.extend(self._failed(group, fold.failed_at, fold.error))
                if fold.unreadable:
                    result.unapplied_streams.add(stream_id)
            return
        self._unapplied(stream_id, group, f"view row kept changing over {self._max_attempts} tries", result)

    def _unapplied(
        self, stream_id: str, group: list[ChangeRecord], error: Exception | str, result: BatchResult
    ) -> None:
        """Nothing of the stream's group was written, for a reason of the storage's, not the projection's."""
        result.failures.extend(self._failed(group, 0, error))
        result.unapplied_streams.add(stream_id)

    def _fold(self, stream_id: str, group: list[ChangeRecord], stored: ViewRow | None) -> _Fold:
        """Fold the group's records into the row, in order, filling gaps from the log. Stops at the first
        record that fails: what came before it is kept, it and everything after it is reported."""
        row, events, gaps = stored, 0, 0
        for position, record in enumerate(group):
            version = row.version if row else 0
            try:
                commit = record.require_commit()
                if commit.last_version <= version:
                    continue  # delivered before: already in the row
                if commit.version > version + 1:
                    try:
                        missing = list(self.store.read(stream_id, after=version, up_to=commit.version - 1))
                    except Exception as exc:  # the log's failure, not the projection's
                        return _Fold(row, events, gaps, failed_at=position, error=exc, unreadable=True)
                    for commit_missed in missing:
                        row = self.projection.apply(row, commit_missed)
                    gaps += 1
                before = row.version if row else 0
                row = self.projection.apply(row, commit)
                events += (row.version if row else 0) - before
            except Exception as exc:  # reported, never swallowed: the batch response names the record
                return _Fold(row, events, gaps, failed_at=position, error=exc)
        return _Fold(row, events, gaps)

    @staticmethod
    def _failed(group: list[ChangeRecord], start: int, error: Exception | str | None) -> list[RecordFailure]:
        reason = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else str(error)
        return [RecordFailure(record.sequence_number, record.stream_id, reason) for record in group[start:]]
