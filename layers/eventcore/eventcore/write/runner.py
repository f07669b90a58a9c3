"""Runs a decider against an event store: load (memory image, else snapshot plus tail in one query), check the
command id, decide, append with one conditional write, and on a lost race catch up and decide again.

Idempotency never forgets. Every commit carries its command id, so the log itself says which commands were
applied, for as long as it exists (forever: facts are never deleted). The aggregate keeps the ids of its
recent commands (its window: the last `WINDOW_COMMANDS`, and every one of the last `WINDOW_SECONDS`, up to
`WINDOW_LIMIT`) in its state and snapshots, so a retry of a recent command costs no request. A stream whose
window still holds every command it ever applied answers a miss from the window alone (most streams: an
order takes a handful of commands). Once a busy stream has dropped ids from its window, a command id the
window does not know is looked up in the log's command index (`EventStore.find_command`: on DynamoDB an
index on (stream, command_id), one eventually consistent query) before deciding. The time rule keeps a
dropped id out of that index's propagation delay (well under `WINDOW_SECONDS`)."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

from eventcore.errors import (
    ConcurrencyError,
    CorruptStreamError,
    IdempotencyConflictError,
    TooManyConflictsError,
)
from eventcore.write.decider import fingerprint
from eventcore.write.store import Commit, Member

if TYPE_CHECKING:
    from collections.abc import Mapping

    from eventcore.write.decider import Decider
    from eventcore.write.events import Event
    from eventcore.write.store import EventStore


WINDOW_COMMANDS = 32
WINDOW_SECONDS = (
    10  # writes reach a global secondary index within a second (AWS re:Post, docs/architecture.md)
)
WINDOW_LIMIT = 128


@dataclass(frozen=True, slots=True)
class AppliedCommand:
    fingerprint: str
    first_version: int
    last_version: int
    committed_at: str = ""  # ISO 8601; "" in snapshots written before commands kept their time


@dataclass(frozen=True, slots=True)
class Aggregate[S]:
    """An aggregate's state at `version`, with the ids of its recent commands (the idempotency window);
    `complete` when the window holds every command the stream ever applied, so a miss needs no lookup.
    `fresh` is True when the state was just read from the log, so nothing newer can exist unseen."""

    stream_id: str
    version: int
    state: S
    commands: Mapping[str, AppliedCommand]
    fresh: bool
    complete: bool = True


@dataclass(frozen=True, slots=True)
class CommandResult[S]:
    """What a command did: the events it recorded (none when already satisfied) and the state after it.
    `duplicate` is True when the command id had already been applied: nothing was written this time."""

    aggregate_id: str
    state: S
    version: int
    events: tuple[Event, ...]
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class BatchMember[C]:
    """A command of a batch, with its id and fingerprint as `handle` takes them."""

    command: C
    command_id: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class MemberOutcome:
    """What one member of a batch did: its events, or that it was a duplicate, or the decider's refusal."""

    command_id: str
    events: tuple[Event, ...]
    duplicate: bool = False
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class BatchDecision[S]:
    """A batch decided: the aggregate's state and version after its one commit, and each member's outcome
    in the batch's order."""

    aggregate_id: str
    state: S
    version: int
    members: tuple[MemberOutcome, ...]


@dataclass(frozen=True, slots=True)
class PreparedBatch[S]:
    """A batch decided against the aggregate as it was (`before`), not yet recorded: `commit` is None when
    it has nothing to record, and `after` is the aggregate once it is."""

    before: Aggregate[S]
    after: Aggregate[S]
    commit: Commit | None
    decision: BatchDecision[S]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class DeciderRunner[C, S]:
    """One per decider per container. Keeps a memory image: an LRU of the aggregates it touched recently."""

    def __init__(
        self,
        decider: Decider[C, S],
        store: EventStore,
        *,
        cache_size: int = 1024,
        max_attempts: int = 5,
        clock: Callable[[], str] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.decider = decider
        self.store = store
        self._cache: OrderedDict[str, Aggregate[S]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._max_attempts = max_attempts
        self._clock = clock
        self._new_id = new_id

    def handle(
        self,
        aggregate_id: str,
        command: C,
        *,
        command_id: str,
        fingerprint: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        expect_new: bool = False,
    ) -> CommandResult[S]:
        """Apply `command` to the aggregate. `expect_new` skips the read for a command that creates the
        aggregate: if the stream exists after all, the conditional write says so and hands back its head."""
        stream_id = self.decider.stream_id(aggregate_id)
        aggregate = self._cached(stream_id)
        if aggregate is None:
            aggregate = self._empty(stream_id) if expect_new else self._load(stream_id)
        looked_up = False
        for attempt in range(self._max_attempts):
            applied = aggregate.commands.get(command_id)
            if applied is None and not aggregate.complete and not looked_up:
                # Older than the window: the log's command index knows whether it was ever applied.
                looked_up = True
                earlier = self.store.find_command(stream_id, command_id)
                if earlier is not None:
                    if earlier.fingerprint != fingerprint:
                        raise IdempotencyConflictError(command_id)
                    aggregate = aggregate if aggregate.fresh else self._refresh(aggregate)
                    return CommandResult(aggregate_id, aggregate.state, aggregate.version, (), duplicate=True)
            if applied is not None:
                if not aggregate.fresh:
                    aggregate = self._refresh(aggregate)
                    continue
                return self._replayed(aggregate_id, aggregate, command_id, fingerprint)
            try:
                events = tuple(self.decider.decide(command, aggregate.state))
            except Exception:
                # A rejection must hold against the whole log, not a possibly stale memory image.
                if aggregate.fresh:
                    self._remember(aggregate)
                    raise
                aggregate = self._refresh(aggregate)
                continue
            if not events:
                if not aggregate.fresh:
                    aggregate = self._refresh(aggregate)
                    continue
                self._remember(aggregate)
                return CommandResult(aggregate_id, aggregate.state, aggregate.version, ())
            commit, after = self._commit(
                aggregate, events, command_id, fingerprint, correlation_id, causation_id
            )
            try:
                self.store.append(commit)
            except ConcurrencyError as conflict:
                aggregate = self._catch_up(aggregate, conflict.existing, lost_before=attempt > 0)
                continue
            self._remember(after)
            return CommandResult(aggregate_id, after.state, after.version, events)
        self._forget(stream_id)
        raise TooManyConflictsError(stream_id, self._max_attempts)

    def handle_batch(
        self,
        aggregate_id: str,
        members: Sequence[BatchMember[C]],
        *,
        batch_id: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> BatchDecision[S]:
        """Decide several commands for one aggregate together and record them in one commit (one conditional
        write); on a lost race catch up and decide them again. See `decide_batch`."""
        for attempt in range(self._max_attempts):
            prepared = self.decide_batch(
                aggregate_id,
                members,
                batch_id=batch_id,
                correlation_id=correlation_id,
                causation_id=causation_id,
            )
            try:
                self.record(prepared, lost_before=attempt > 0)
            except ConcurrencyError:
                continue
            return prepared.decision
        stream_id = self.decider.stream_id(aggregate_id)
        self._forget(stream_id)
        raise TooManyConflictsError(stream_id, self._max_attempts)

    def decide_batch(
        self,
        aggregate_id: str,
        members: Sequence[BatchMember[C]],
        *,
        batch_id: str,
        batch_fingerprint: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> PreparedBatch[S]:
        """Decide several commands for one aggregate together, in their order, each against the state the
        ones before it left, into one commit that `record` appends. A member already applied (in the window)
        is a duplicate and decides nothing; a member the decider refuses has its error, and the others go
        on. Beyond the window, a member is recognised only by the aggregate's own rules (an order holds a
        bucket of stock at most once), not by the command index: the commit's own id, `batch_id` (with
        `batch_fingerprint`, by default its members'), is what the index holds, so a batch that is one
        request is found as that request. For aggregates whose decisions are idempotent by themselves."""
        stream_id = self.decider.stream_id(aggregate_id)
        aggregate = self._cached(stream_id) or self._load(stream_id)
        while True:
            outcomes: list[MemberOutcome] = []
            events: list[Event] = []
            state = aggregate.state
            version = aggregate.version
            recorded: list[Member] = []
            for member in members:
                applied = aggregate.commands.get(member.command_id)
                if applied is not None or any(m.command_id == member.command_id for m in recorded):
                    conflict = applied is not None and applied.fingerprint != member.fingerprint
                    error = IdempotencyConflictError(member.command_id) if conflict else None
                    outcomes.append(MemberOutcome(member.command_id, (), duplicate=not conflict, error=error))
                    continue
                try:
                    decided = tuple(self.decider.decide(member.command, state))
                except Exception as exc:
                    outcomes.append(MemberOutcome(member.command_id, (), error=exc))
                    continue
                state = self.decider.fold(decided, state)
                recorded.append(
                    Member(member.command_id, member.fingerprint, version + 1, version + len(decided))
                )
                version += len(decided)
                events.extend(decided)
                outcomes.append(MemberOutcome(member.command_id, decided))
            if not aggregate.fresh and (not events or any(o.error is not None for o in outcomes)):
                # A refusal, or nothing to record, must hold against the whole log, not the memory image.
                aggregate = self._refresh(aggregate)
                continue
            if not events:
                decision = BatchDecision(aggregate_id, aggregate.state, aggregate.version, tuple(outcomes))
                return PreparedBatch(aggregate, aggregate, None, decision)
            commit, after = self._commit(
                aggregate,
                tuple(events),
                batch_id,
                batch_fingerprint or fingerprint(sorted(m.command_id for m in recorded)),
                correlation_id,
                causation_id,
                members=tuple(recorded),
            )
            decision = BatchDecision(aggregate_id, after.state, after.version, tuple(outcomes))
            return PreparedBatch(aggregate, after, commit, decision)

    def record(self, batch: PreparedBatch[S], *, lost_before: bool = False) -> None:
        """Append the batch's commit (nothing when it decided nothing). On a lost race the memory image
        catches up (`lost_before`: this batch lost a race already, so read the stream rather than trust the
        winner's commit) and `ConcurrencyError` is raised: decide again."""
        if batch.commit is None:
            return
        try:
            self.store.append(batch.commit)
        except ConcurrencyError as conflict:
            self._remember(self._catch_up(batch.before, conflict.existing, lost_before=lost_before))
            raise
        self._remember(batch.after)

    def applied(self, aggregate_id: str, *, command_id: str, fingerprint: str) -> CommandResult[S] | None:
        """The answer to a command already applied to the aggregate (as `handle` would give it), or None if
        it never was: for a retry that can no longer be decided again."""
        aggregate = self.load(aggregate_id)
        if command_id in aggregate.commands:
            return self._replayed(aggregate_id, aggregate, command_id, fingerprint)
        earlier = None if aggregate.complete else self.store.find_command(aggregate.stream_id, command_id)
        if earlier is None:
            return None
        if earlier.fingerprint != fingerprint:
            raise IdempotencyConflictError(command_id)
        return CommandResult(aggregate_id, aggregate.state, aggregate.version, (), duplicate=True)

    def recorded(self, aggregate_id: str, command_id: str) -> tuple[Event, ...] | None:
        """The events an applied command recorded, or None if the log holds no commit of it (never applied,
        or satisfied without recording anything): for a consumer that must send again what a redelivered
        command caused, since a crash may have come between the write and the sending."""
        aggregate = self.load(aggregate_id)
        applied = aggregate.commands.get(command_id)
        if applied is None:
            earlier = None if aggregate.complete else self.store.find_command(aggregate.stream_id, command_id)
            if earlier is None:
                return None
            return tuple(self.decider.registry.decode(event) for event in earlier.events)
        for commit in self.store.read(
            aggregate.stream_id, after=applied.first_version - 1, up_to=applied.first_version
        ):
            if commit.command_id == command_id:
                return tuple(self.decider.registry.decode(event) for event in commit.events)
        return ()

    def _replayed(
        self, aggregate_id: str, aggregate: Aggregate[S], command_id: str, fingerprint: str
    ) -> CommandResult[S]:
        if aggregate.commands[command_id].fingerprint != fingerprint:
            raise IdempotencyConflictError(command_id)
        return CommandResult(aggregate_id, aggregate.state, aggregate.version, (), duplicate=True)

    def recent(self, aggregate_id: str) -> Aggregate[S]:
        """The aggregate from the memory image, maybe a moment stale (read from the log if not there): for a
        question a stale answer cannot harm."""
        return self._cached(self.decider.stream_id(aggregate_id)) or self.load(aggregate_id)

    def latest(self, aggregate_id: str) -> Aggregate[S]:
        """The aggregate as the log has it now: the memory image caught up with what came after it (one
        query, most often of nothing), else read. For a decision that must not trust a stale image."""
        stream_id = self.decider.stream_id(aggregate_id)
        cached = self._cached(stream_id)
        aggregate = self._refresh(cached) if cached is not None else self._load(stream_id)
        self._remember(aggregate)
        return aggregate

    def load(self, aggregate_id: str) -> Aggregate[S]:
        """The aggregate as the log has it now (always read: for queries that must not trust the cache)."""
        aggregate = self._load(self.decider.stream_id(aggregate_id))
        self._remember(aggregate)
        return aggregate

    # -- loading ---------------------------------------------------------------------------------------------

    def _empty(self, stream_id: str) -> Aggregate[S]:
        return Aggregate(stream_id, 0, self.decider.initial_state, MappingProxyType({}), fresh=False)

    def _load(self, stream_id: str) -> Aggregate[S]:
        """Newest first down to the latest usable snapshot: one query whatever the stream's length, since
        there are never more than `snapshot_every` commits after the latest snapshot."""
        tail: list[Commit] = []
        base = self._empty(stream_id)
        for commit in self.store.read_backwards(stream_id, page_size=self.decider.snapshot_every + 1):
            snapshot = commit.snapshot
            if snapshot is not None and snapshot.get("schema") == self.decider.state_schema:
                base = Aggregate(
                    stream_id,
                    commit.last_version,
                    self.decider.load_state(snapshot["state"]),
                    MappingProxyType(
                        {cid: AppliedCommand(*entry) for cid, entry in snapshot["commands"].items()}
                    ),
                    fresh=False,
                    # Snapshots from before the window knew it was whole: assume it is not (a lookup more).
                    complete=bool(snapshot.get("complete", False)),
                )
                break
            tail.append(commit)
        return replace(self._apply(base, reversed(tail)), fresh=True)

    def _refresh(self, aggregate: Aggregate[S]) -> Aggregate[S]:
        return replace(
            self._apply(aggregate, self.store.read(aggregate.stream_id, after=aggregate.version)), fresh=True
        )

    def _catch_up(self, aggregate: Aggregate[S], winner: Commit | None, *, lost_before: bool) -> Aggregate[S]:
        """After a lost race: the first time, the winner's commit is likely all the state missed (no read);
        a state that lost again is many commits behind (a busy stream's other writers), so everything after
        it is read in one query."""
        if not lost_before and winner is not None and winner.version == aggregate.version + 1:
            # More commits may have landed after the winner's: trust this state to decide, not to reject.
            return replace(self._apply(aggregate, [winner]), fresh=False)
        return self._refresh(aggregate)

    def _apply(self, aggregate: Aggregate[S], commits: Iterable[Commit]) -> Aggregate[S]:
        decode = self.decider.registry.decode
        state, version, commands = aggregate.state, aggregate.version, dict(aggregate.commands)
        for commit in commits:
            if commit.version != version + 1:
                # A gap or an overlap: deciding on it could grant what the log forbids.
                raise CorruptStreamError(aggregate.stream_id, version + 1, commit.version)
            state = self.decider.fold((decode(e) for e in commit.events), state)
            version = commit.last_version
            commands[commit.command_id] = AppliedCommand(
                commit.fingerprint, commit.version, version, commit.committed_at
            )
            for member in commit.members:
                commands[member.command_id] = AppliedCommand(
                    member.fingerprint, member.first_version, member.last_version, commit.committed_at
                )
        window, complete = windowed(commands, aggregate.complete)
        return Aggregate(aggregate.stream_id, version, state, window, aggregate.fresh, complete)

    # -- writing ---------------------------------------------------------------------------------------------

    def _commit(
        self,
        aggregate: Aggregate[S],
        events: tuple[Event, ...],
        command_id: str,
        fingerprint: str,
        correlation_id: str | None,
        causation_id: str | None,
        members: tuple[Member, ...] = (),
    ) -> tuple[Commit, Aggregate[S]]:
        now = self._clock()
        first = aggregate.version + 1
        last = aggregate.version + len(events)
        state = self.decider.fold(events, aggregate.state)
        applied = {
            command_id: AppliedCommand(fingerprint, first, last, now),
            **{
                m.command_id: AppliedCommand(m.fingerprint, m.first_version, m.last_version, now)
                for m in members
            },
        }
        commands, complete = windowed({**aggregate.commands, **applied}, aggregate.complete)
        after = Aggregate(aggregate.stream_id, last, state, commands, fresh=True, complete=complete)
        every = self.decider.snapshot_every
        snapshot = None
        if aggregate.version // every != last // every:
            snapshot = {
                "schema": self.decider.state_schema,
                "state": self.decider.dump_state(state),
                "commands": {
                    cid: [c.fingerprint, c.first_version, c.last_version, c.committed_at]
                    for cid, c in commands.items()
                },
                "complete": complete,
            }
        commit = Commit(
            stream_id=aggregate.stream_id,
            version=first,
            events=tuple(
                self.decider.registry.encode(e, event_id=self._new_id(), recorded_at=now) for e in events
            ),
            command_id=command_id,
            fingerprint=fingerprint,
            committed_at=now,
            correlation_id=correlation_id,
            causation_id=causation_id,
            snapshot=snapshot,
            members=members,
        )
        return commit, after

    # -- memory image ----------------------------------------------------------------------------------------

    def _cached(self, stream_id: str) -> Aggregate[S] | None:
        with self._cache_lock:
            aggregate = self._cache.get(stream_id)
            if aggregate is not None:
                self._cache.move_to_end(stream_id)
                # From the cache it may be stale: trust it to decide, never to reject.
                return replace(aggregate, fresh=False)
            return None

    def _remember(self, aggregate: Aggregate[S]) -> None:
        with self._cache_lock:
            self._cache[aggregate.stream_id] = aggregate
            self._cache.move_to_end(aggregate.stream_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _forget(self, stream_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(stream_id, None)


def windowed(
    commands: dict[str, AppliedCommand], complete: bool
) -> tuple[Mapping[str, AppliedCommand], bool]:
    """The window kept in the state: the latest WINDOW_COMMANDS commands, and every one committed within
    WINDOW_SECONDS of the latest, at most WINDOW_LIMIT; and whether it still holds every command ever
    applied. Bounded, so a snapshot stays small whatever the stream's traffic."""
    if len(commands) <= WINDOW_COMMANDS:
        return MappingProxyType(commands), complete
    newest_first = sorted(commands.items(), key=lambda kv: kv[1].first_version, reverse=True)
    latest = newest_first[0][1].committed_at
    horizon = _seconds_before(latest, WINDOW_SECONDS) if latest else ""
    kept = [
        entry
        for index, entry in enumerate(newest_first[:WINDOW_LIMIT])
        if index < WINDOW_COMMANDS or (horizon and entry[1].committed_at >= horizon)
    ]
    return MappingProxyType(dict(kept)), complete and len(kept) == len(commands)


def _seconds_before(moment: str, seconds: int) -> str:
    """An ISO 8601 UTC time `seconds` earlier, in the runner's own format (so the two compare as text)."""
    earlier = datetime.fromisoformat(moment.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return earlier.isoformat(timespec="microseconds").replace("+00:00", "Z")
