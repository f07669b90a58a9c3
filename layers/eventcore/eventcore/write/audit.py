"""An aggregate's past, read from its log: its state as of a version or a point in time (time travel), and
its events one page at a time (the audit trail). Reads only; nothing here is cached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from eventcore.write.decider import Decider
    from eventcore.write.events import RecordedEvent
    from eventcore.write.store import Commit, EventStore


@dataclass(frozen=True, slots=True)
class PastState[S]:
    """The state after `version` (0: before the first event, i.e. the decider's initial state)."""

    state: S
    version: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: int
    event: RecordedEvent
    commit: Commit


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def state_at[C, S](
    decider: Decider[C, S],
    store: EventStore,
    aggregate_id: str,
    *,
    version: int | None = None,
    at: datetime | None = None,
) -> PastState[S]:
    """Replay the stream up to `version` (inclusive) and/or up to the events recorded at or before `at`
    (timezone-aware). Snapshots are not used: a snapshot holds the state after its whole commit, and time
    travel must be able to stop in the middle of one."""
    state, current = decider.initial_state, 0
    for entry in entries(store, decider.stream_id(aggregate_id), up_to=version):
        if at is not None and parse_time(entry.event.recorded_at) > at:
            break
        state = decider.fold([decider.registry.decode(entry.event)], state)
        current = entry.version
    return PastState(state, current)


def entries(
    store: EventStore, stream_id: str, *, after: int = 0, up_to: int | None = None, commit_after: int = 0
) -> Iterator[HistoryEntry]:
    """The stream's events after version `after` (and at or before `up_to`), oldest first, read lazily.
    `commit_after` is where reading starts: a caller paging through the stream passes the version before
    the commit that holds `after + 1`, so earlier commits are not read again (commits hold several events)."""
    for commit in store.read(stream_id, after=min(commit_after, after), up_to=up_to):
        for offset, recorded in enumerate(commit.events):
            version = commit.version + offset
            if version <= after:
                continue
            if up_to is not None and version > up_to:
                return
            yield HistoryEntry(version, recorded, commit)
