"""The decider runner on the in-memory store: memory image, idempotency, conflicts, snapshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eventcore import (
    Commit,
    ConcurrencyError,
    DeciderRunner,
    IdempotencyConflictError,
    InMemoryEventStore,
    TooManyConflictsError,
    fingerprint,
)
from eventcore.write.runner import WINDOW_COMMANDS, WINDOW_LIMIT
from tests.support.counter import CeilingReachedError, Increment, counter_decider


class CountingStore(InMemoryEventStore):
    """The in-memory store, counting what the runner asks of it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.appends = 0

    def append(self, commit):
        self.appends += 1
        super().append(commit)

    def read(self, stream_id: str, *, after: int = 0, up_to: int | None = None) -> Iterator[Commit]:
        self.reads += 1
        return super().read(stream_id, after=after, up_to=up_to)

    def read_backwards(self, stream_id: str, *, page_size: int) -> Iterator[Commit]:
        self.reads += 1
        return super().read_backwards(stream_id, page_size=page_size)


def increment(runner: DeciderRunner, command_id: str, by: int = 1, times: int = 1, stream: str = "c1"):
    command = Increment(by=by, times=times)
    return runner.handle(
        stream, command, command_id=command_id, fingerprint=fingerprint(command.model_dump())
    )


class TestMemoryImage:
    def test_a_warm_aggregate_is_decided_without_reading(self):
        # GIVEN a runner that has handled one command for the stream
        store = CountingStore()
        runner = DeciderRunner(counter_decider(), store)
        increment(runner, "a")
        reads = store.reads
        # WHEN it handles another
        result = increment(runner, "b")
        # THEN it wrote once and read nothing
        assert store.reads == reads
        assert result.state.value == 2
        assert result.version == 2

    def test_a_stale_memory_image_catches_up_from_the_conflicting_commit(self):
        # GIVEN two containers that both know the stream at version 1
        store = CountingStore()
        first, second = DeciderRunner(counter_decider(), store), DeciderRunner(counter_decider(), store)
        increment(first, "a")
        increment(second, "b")
        # WHEN the first, still at version 1, handles a command
        reads = store.reads
        result = increment(first, "c")
        # THEN it lost the race for version 2, caught up from the winner's commit without a read, and won 3
        assert store.reads == reads
        assert result.version == 3
        assert result.state.value == 3

    def test_a_rejection_from_the_memory_image_is_confirmed_against_the_log(self):
        # GIVEN a container whose memory image of the stream is one commit behind
        store = CountingStore()
        decider = counter_decider(ceiling=3)
        behind, other = DeciderRunner(decider, store), DeciderRunner(decider, store)
        increment(behind, "a")
        increment(other, "b")
        # WHEN its image rejects a command
        reads = store.reads
        with pytest.raises(CeilingReachedError):
            increment(behind, "c", by=3)
        # THEN the rejection was decided again on the log's latest state before it was raised
        assert store.reads == reads + 1

    def test_a_command_satisfied_in_the_memory_image_is_confirmed_against_the_log(self):
        store = CountingStore()
        runner = DeciderRunner(counter_decider(), store)
        increment(runner, "a")
        reads = store.reads
        result = increment(runner, "noop", by=0)
        assert result.events == ()
        assert store.reads == reads + 1
        assert store.appends == 1

    def test_after_a_lost_race_the_state_is_not_trusted_to_reject(self):
        # GIVEN a container that reads the stream, and two other commits landing before it appends
        store = CountingStore()
        decider = counter_decider(ceiling=3)
        increment(DeciderRunner(decider, store), "a")
        other = DeciderRunner(decider, store)
        original_append = store.append

        def append_after_others(commit):
            if commit.command_id == "d" and not other_writes:
                other_writes.extend([increment(other, "b"), increment(other, "c")])
            original_append(commit)

        other_writes: list = []
        store.append = append_after_others
        # WHEN its command loses the race for version 2 and the winner's commit is all it learns
        with pytest.raises(CeilingReachedError):
            increment(DeciderRunner(decider, store), "d", by=1)
        # THEN the rejection, decided on version 2 of 3, was confirmed against the log: a read after the load
        # (four reads: three cold loads, one for each runner, and the confirmation)
        assert store.reads == 4

    def test_the_image_is_bounded(self):
        store = CountingStore()
        runner = DeciderRunner(counter_decider(), store, cache_size=2)
        for stream in ("x", "y", "z"):
            increment(runner, f"{stream}-1", stream=stream)
        reads = store.reads
        increment(runner, "x-2", stream="x")  # evicted: read again
        assert store.reads == reads + 1


class TestIdempotency:
    def test_a_repeated_command_id_writes_nothing_and_returns_the_state(self):
        store = CountingStore()
        runner = DeciderRunner(counter_decider(), store)
        increment(runner, "a")
        again = increment(runner, "a")
        assert again.duplicate
        assert again.events == ()
        assert store.appends == 1
        assert again.state.value == 1

    def test_a_repeated_command_id_is_found_by_a_cold_container(self):
        store = InMemoryEventStore()
        increment(DeciderRunner(counter_decider(), store), "a")
        again = increment(DeciderRunner(counter_decider(), store), "a")
        assert again.duplicate
        assert [c.command_id for c in store.read("Counter-c1")] == ["a"]

    def test_a_repeated_command_id_applied_by_another_container_is_found_after_the_conflict(self):
        store = InMemoryEventStore()
        first, second = DeciderRunner(counter_decider(), store), DeciderRunner(counter_decider(), store)
        increment(first, "a")
        increment(second, "b")
        assert increment(first, "b").duplicate

    def test_the_same_command_id_with_another_payload_is_refused(self):
        runner = DeciderRunner(counter_decider(), InMemoryEventStore())
        increment(runner, "a", by=1)
        with pytest.raises(IdempotencyConflictError, match="'a'"):
            increment(runner, "a", by=5)

    def test_expect_new_on_an_existing_stream_finds_the_original_command(self):
        store = CountingStore()
        increment(DeciderRunner(counter_decider(), store), "create")
        runner = DeciderRunner(counter_decider(), store)
        command = Increment()
        result = runner.handle(
            "c1", command, command_id="create", fingerprint=fingerprint(command.model_dump()), expect_new=True
        )
        assert result.duplicate
        assert store.appends == 2  # the refused conditional write, then nothing


class ClockedStore(CountingStore):
    """Counts the runner's lookups in the log's command index."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def find_command(self, stream_id: str, command_id: str) -> Commit | None:
        self.lookups += 1
        return super().find_command(stream_id, command_id)


class Clock:
    """The runner's commit times, one second apart, so the window's time rule is under the test's control."""

    def __init__(self) -> None:
        self.second = 0

    def __call__(self) -> str:
        self.second += 1
        minute, second = divmod(self.second, 60)
        hour, minute = divmod(minute, 60)
        return f"2026-12-05T{hour:02d}:{minute:02d}:{second:02d}.000000Z"


class TestIdempotencyBeyondTheWindow:
    """A command id is recognised for as long as the log exists, however many commands came after it."""

    def busy(self, commands: int) -> tuple[ClockedStore, DeciderRunner]:
        store = ClockedStore()
        runner = DeciderRunner(counter_decider(ceiling=10_000), store, clock=Clock())
        for index in range(commands):
            increment(runner, f"cmd-{index}")
        return store, runner

    def test_a_retry_after_many_other_commands_writes_nothing_and_answers_the_state(self):
        # GIVEN a stream that took far more commands than its window keeps, well apart in time
        store, runner = self.busy(WINDOW_LIMIT + 10)
        appends, lookups = store.appends, store.lookups
        # WHEN the very first command comes again
        result = increment(runner, "cmd-0")
        # THEN the log's command index recognises it: nothing is written, nothing counted twice
        assert result.duplicate
        assert (store.appends, result.state.value) == (appends, WINDOW_LIMIT + 10)
        assert store.lookups == lookups + 1

    def test_the_same_old_id_with_another_payload_is_refused(self):
        _, runner = self.busy(WINDOW_COMMANDS + 5)
        with pytest.raises(IdempotencyConflictError):
            increment(runner, "cmd-0", by=7)

    def test_a_cold_container_recognises_it_too(self):
        store, _ = self.busy(WINDOW_COMMANDS + 5)
        cold = DeciderRunner(counter_decider(ceiling=10_000), store)
        assert increment(cold, "cmd-1").duplicate

    def test_a_stream_that_kept_every_command_in_its_window_never_looks_up(self):
        store, runner = self.busy(WINDOW_COMMANDS - 1)
        increment(runner, "new")
        increment(runner, "cmd-0")
        assert store.lookups == 0

    def test_once_it_has_dropped_ids_a_new_command_costs_one_lookup_and_a_recent_retry_none(self):
        store, runner = self.busy(WINDOW_COMMANDS + 1)
        lookups = store.lookups
        increment(runner, "new")
        assert store.lookups == lookups + 1
        assert increment(runner, "new").duplicate
        assert store.lookups == lookups + 1

    def test_every_command_of_the_last_seconds_stays_in_the_window(self):
        # GIVEN commands all committed within WINDOW_SECONDS of each other (a frozen clock)
        store = ClockedStore()
        runner = DeciderRunner(
            counter_decider(ceiling=10_000), store, clock=lambda: "2026-12-05T10:00:00.000000Z"
        )
        for index in range(WINDOW_COMMANDS * 2):
            increment(runner, f"cmd-{index}")
        # THEN the window holds them all (up to WINDOW_LIMIT): none waits on the index's propagation
        aggregate = runner.load("c1")
        assert len(aggregate.commands) == WINDOW_COMMANDS * 2
        assert aggregate.complete

    def test_the_window_and_whether_it_is_whole_survive_a_snapshot(self):
        store, _ = self.busy(WINDOW_COMMANDS + 30)
        loaded = DeciderRunner(counter_decider(ceiling=10_000), store).load("c1")
        assert not loaded.complete
        assert len(loaded.commands) == WINDOW_COMMANDS


class TestConflicts:
    def test_gives_up_after_the_bounded_number_of_attempts(self):
        class AlwaysConflicting(InMemoryEventStore):
            def append(self, commit):
                raise ConcurrencyError(commit.stream_id, commit.version)

        runner = DeciderRunner(counter_decider(), AlwaysConflicting(), max_attempts=3)
        with pytest.raises(TooManyConflictsError, match="3 conflicting attempts"):
            increment(runner, "a")


class TestSnapshots:
    def test_a_commit_crossing_a_multiple_of_snapshot_every_carries_the_state(self):
        store = InMemoryEventStore()
        runner = DeciderRunner(counter_decider(snapshot_every=5), store)
        for i in range(12):
            increment(runner, f"cmd-{i}")
        snapshots = [c.version for c in store.read("Counter-c1") if c.snapshot]
        assert snapshots == [5, 10]

    def test_a_cold_load_reads_back_only_to_the_latest_snapshot(self):
        store = InMemoryEventStore()
        writer = DeciderRunner(counter_decider(snapshot_every=5), store)
        for i in range(12):
            increment(writer, f"cmd-{i}", times=1)
        seen = []
        original = store.read_backwards

        def tracking(stream, *, page_size):
            for commit in original(stream, page_size=page_size):
                seen.append(commit.version)
                yield commit

        store.read_backwards = tracking
        aggregate = DeciderRunner(counter_decider(snapshot_every=5), store).load("c1")
        assert aggregate.state.value == 12
        assert seen == [12, 11, 10]

    def test_a_snapshot_of_another_state_schema_is_ignored(self):
        store = InMemoryEventStore()
        writer = DeciderRunner(counter_decider(snapshot_every=2), store)
        for i in range(5):
            increment(writer, f"cmd-{i}")
        decider = counter_decider(snapshot_every=2)
        object.__setattr__(decider, "state_schema", 2)
        assert DeciderRunner(decider, store).load("c1").state.value == 5

    def test_multi_event_commits_keep_versions_contiguous(self):
        store = InMemoryEventStore()
        runner = DeciderRunner(counter_decider(snapshot_every=4), store)
        increment(runner, "a", times=3)
        result = increment(runner, "b", times=3)
        assert result.version == 6
        assert [(c.version, c.last_version) for c in store.read("Counter-c1")] == [(1, 3), (4, 6)]
        assert DeciderRunner(counter_decider(snapshot_every=4), store).load("c1").state.value == 6
