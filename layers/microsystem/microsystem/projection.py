"""Projections: read models fed by the event log's stream. The domain gives a pure function (view, event) ->
view; the core delivers each aggregate's events to it exactly once and in order, whatever the stream does:
duplicates and already-applied versions are skipped, a gap is filled from the log, and a batch ends in one
conditional write per aggregate it touched."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from microsystem.errors import MicrosystemError
from microsystem.stream import aggregate_id, group_by_stream
from microsystem.viewstore import View, ViewConflictError, ViewRow

if TYPE_CHECKING:
    from microsystem.events import Event, EventRegistry
    from microsystem.store import Commit, EventStore
    from microsystem.stream import CommitRecord
    from microsystem.viewstore import ViewStore

ProjectFunction = Callable[[View | None, "Event"], View]


class GapError(MicrosystemError):
    """The log does not hold the versions between what the view has applied and what the stream delivered."""

    def __init__(self, stream: str, applied: int, delivered: int) -> None:
        super().__init__(
            f"stream {stream!r}: view at version {applied}, log has no versions before {delivered}"
        )
        self.stream = stream
        self.applied = applied
        self.delivered = delivered


@dataclass(frozen=True)
class Projection:
    """A read model of one aggregate type: `project` folds its events into one view document per aggregate,
    stored under `key_attribute` = the aggregate id."""

    name: str
    aggregate: str
    key_attribute: str
    registry: EventRegistry
    project: ProjectFunction

    def handles(self, stream: str) -> bool:
        return stream.startswith(f"{self.aggregate}-")

    def key(self, stream: str) -> str:
        return aggregate_id(stream)

    def apply(self, row: ViewRow | None, commit: Commit) -> ViewRow | None:
        """The row after `commit`: events at or below the row's version are skipped (already applied); the
        first one applied must be exactly the row's next version."""
        view, version = (row.view, row.version) if row else (None, 0)
        for offset, recorded in enumerate(commit.events):
            event_version = commit.version + offset
            if event_version <= version:
                continue
            if event_version != version + 1:
                raise GapError(commit.stream, version, event_version)
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


@dataclass(frozen=True, slots=True)
class RecordFailure:
    sequence_number: str
    stream: str
    reason: str


@dataclass
class BatchResult:
    """What one batch did. `failures` are the records to report (in delivery order); Lambda delivers again
    from the lowest of them."""

    failures: list[RecordFailure] = field(default_factory=list)
    events_applied: int = 0
    rows_written: int = 0
    conflicts: int = 0
    gaps_filled: int = 0

    @property
    def failed_sequence_numbers(self) -> list[str]:
        return [failure.sequence_number for failure in self.failures]


class Projector:
    """Runs a projection over batches of stream records.

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

    def handle(self, records: Sequence[CommitRecord]) -> BatchResult:
        result = BatchResult()
        groups = {
            s: g for s, g in group_by_stream(records).items() if self.projection.handles(s) or s[0] == "?"
        }
        keys = [self.projection.key(s) for s in groups if self.projection.handles(s)]
        rows = self.views.get_many(keys) if keys else {}
        for stream, group in groups.items():
            if not self.projection.handles(stream):
                result.failures.extend(
                    self._failed(group, 0, group[0].error or "record without a stream key")
                )
                continue
            self._project_stream(stream, group, rows.get(self.projection.key(stream)), result)
        order = {record.sequence_number: position for position, record in enumerate(records)}
        result.failures.sort(key=lambda failure: order.get(failure.sequence_number, 0))
        return result

    def _project_stream(
        self, stream: str, group: list[CommitRecord], stored: ViewRow | None, result: BatchResult
    ) -> None:
        key = self.projection.key(stream)
        for _ in range(self._max_attempts):
            row, failed_at, error, events, gaps = self._fold(stream, group, stored)
            try:
                if row is not None and row is not stored:
                    self.views.put(key, row, expected_version=stored.version if stored else 0)
                    result.rows_written += 1
            except ViewConflictError as conflict:
                # Another writer (a rebuild, an overlapping invocation) moved the row on: start again from
                # its row; what it already holds is skipped this time.
                result.conflicts += 1
                stored = (
                    conflict.current if conflict.current is not None else self.views.get_many([key]).get(key)
                )
                continue
            except Exception as exc:  # throttled, unavailable: nothing of this aggregate was written
                result.failures.extend(self._failed(group, 0, exc))
                return
            result.events_applied += events
            result.gaps_filled += gaps
            if failed_at is not None:
                result.failures.extend(self._failed(group, failed_at, error))
            return
        result.failures.extend(
            self._failed(group, 0, f"view row kept changing over {self._max_attempts} tries")
        )

    def _fold(
        self, stream: str, group: list[CommitRecord], stored: ViewRow | None
    ) -> tuple[ViewRow | None, int | None, Any, int, int]:
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
                    for missing in self.store.read(stream, after=version, up_to=commit.version - 1):
                        row = self.projection.apply(row, missing)
                    gaps += 1
                before = row.version if row else 0
                row = self.projection.apply(row, commit)
                events += (row.version if row else 0) - before
            except Exception as exc:  # reported, never swallowed: the batch response names the record
                return row, position, exc, events, gaps
        return row, None, None, events, gaps

    @staticmethod
    def _failed(group: list[CommitRecord], start: int, error: Any) -> list[RecordFailure]:
        reason = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else str(error)
        return [RecordFailure(record.sequence_number, record.stream, reason) for record in group[start:]]
