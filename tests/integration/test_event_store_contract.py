"""The event store contract, run against every implementation: in memory and DynamoDB (moto)."""

from __future__ import annotations

import pytest

from eventcore import (
    Commit,
    CommitTooLargeError,
    ConcurrencyError,
    CorruptStreamError,
    DeciderRunner,
    DynamoDBEventStore,
    InMemoryEventStore,
    Member,
    RecordedEvent,
    fingerprint,
)
from tests.support.counter import Increment, counter_decider


@pytest.fixture(params=["in-memory", "dynamodb"])
def store(request):
    if request.param == "in-memory":
        return InMemoryEventStore()
    table = request.getfixturevalue("orders_log")
    return DynamoDBEventStore(table, request.getfixturevalue("dynamodb"))


def commit(stream: str, version: int, events: int = 1, data: str = "{}", **extra) -> Commit:
    return Commit(
        stream_id=stream,
        version=version,
        events=tuple(
            RecordedEvent(f"{stream}-{version + i}", "Happened", 1, data, "2026-11-26T10:00:00Z")
            for i in range(events)
        ),
        command_id=f"cmd-{version}",
        fingerprint="f",
        committed_at="2026-11-26T10:00:00Z",
        **extra,
    )


def test_commits_are_read_back_in_order(store):
    for version in (1, 2, 4):
        store.append(commit("s", version, events=2 if version == 2 else 1))
    assert [c.version for c in store.read("s")] == [1, 2, 4]
    assert [c.version for c in store.read("s", after=1)] == [2, 4]
    assert [c.version for c in store.read("s", after=1, up_to=2)] == [2]
    assert [c.version for c in store.read_backwards("s", page_size=2)] == [4, 2, 1]


def test_a_duplicate_version_is_rejected_and_names_the_winner(store):
    store.append(commit("s", 1))
    with pytest.raises(ConcurrencyError) as raised:
        store.append(commit("s", 1, events=3))
    assert raised.value.existing == commit("s", 1)
    assert [len(c.events) for c in store.read("s")] == [1]


def test_a_multi_event_commit_is_all_or_nothing(store):
    store.append(commit("s", 1, events=3))
    (stored,) = store.read("s")
    assert stored.last_version == 3
    assert [e.event_id for e in stored.events] == ["s-1", "s-2", "s-3"]


def test_a_batch_commit_keeps_its_members(store):
    batch = commit("s", 1, events=2, members=(Member("m1", "f1", 1, 1), Member("m2", "f2", 2, 1)))
    store.append(batch)
    assert list(store.read("s")) == [batch]


def test_streams_are_independent(store):
    store.append(commit("a", 1))
    store.append(commit("b", 1))
    assert [c.stream_id for c in store.read("a")] == ["a"]


def test_everything_a_commit_carries_survives_storage(store):
    original = commit(
        "s", 1, correlation_id="corr", causation_id="cause", snapshot={"schema": 1, "state": {"v": 1}}
    )
    store.append(original)
    (stored,) = store.read("s")
    assert stored == original
    assert stored.snapshot == original.snapshot


def test_reads_page_through_long_streams(dynamodb, orders_log):
    store = DynamoDBEventStore(orders_log, dynamodb)
    big = "x" * 20_000  # ~20 KB per item: 60 of them exceed one 1 MB query page
    for version in range(1, 61):
        store.append(commit("s", version, data=f'"{big}"'))
    assert [c.version for c in store.read("s")] == list(range(1, 61))


def test_a_commit_over_the_item_limit_is_refused_before_writing(dynamodb, orders_log):
    store = DynamoDBEventStore(orders_log, dynamodb)
    with pytest.raises(CommitTooLargeError, match="over the 409600-byte item limit"):
        store.append(commit("s", 1, events=5, data='"' + "x" * 90_000 + '"'))
    assert list(store.read("s")) == []


def test_a_snapshot_that_would_take_a_commit_over_the_item_limit_is_left_out(dynamodb, orders_log):
    store = DynamoDBEventStore(orders_log, dynamodb)
    big = {"schema": 1, "state": {"holders": "x" * 450_000}}
    store.append(commit("s", 1, snapshot=big))
    store.append(commit("s", 2, snapshot=big))
    assert [c.snapshot for c in store.read("s")] == [None, None]


class TestOverlappingCommits:
    """A commit starting inside another one's versions (version 2 while a commit holds 1-3) would give two
    facts one version. The in-memory store refuses it; DynamoDB's conditional write can only see its own
    key, so there the guarantee is the runner's (it appends right after a commit it has read: see the
    concurrency test in test_runner_dynamodb.py, whose versions come out exactly 1..n) and every reader
    refuses a stream whose commits do not follow each other."""

    def test_the_in_memory_store_refuses_a_commit_inside_another(self):
        store = InMemoryEventStore()
        store.append(commit("s", 1, events=3))
        for version in (2, 3):
            with pytest.raises(ConcurrencyError) as raised:
                store.append(commit("s", version))
            assert raised.value.existing == commit("s", 1, events=3)
        store.append(commit("s", 4))
        assert [c.version for c in store.read("s")] == [1, 4]

    def test_the_runner_refuses_to_decide_on_a_stream_whose_commits_overlap(self, dynamodb, orders_log):
        # GIVEN a damaged DynamoDB log (a hand edit, or a writer that bypassed the runner)
        store = DynamoDBEventStore(orders_log, dynamodb)
        incremented = '{"by":1}'
        for version, events in ((1, 3), (2, 1)):
            store.append(
                Commit(
                    stream_id="Counter-c",
                    version=version,
                    events=tuple(
                        RecordedEvent(
                            f"e-{version}-{i}", "Incremented", 1, incremented, "2026-11-26T10:00:00Z"
                        )
                        for i in range(events)
                    ),
                    command_id=f"cmd-{version}",
                    fingerprint="f",
                    committed_at="2026-11-26T10:00:00Z",
                )
            )
        # WHEN a command is sent to it, THEN nothing is decided on the broken history
        runner = DeciderRunner(counter_decider(), store)
        command = Increment()
        with pytest.raises(CorruptStreamError, match="expected a commit at version 4, found one at 2"):
            runner.handle("c", command, command_id="next", fingerprint=fingerprint(command.model_dump()))
        assert [c.version for c in store.read("Counter-c")] == [1, 2]


def test_the_command_index_finds_the_commit_that_applied_a_command_in_its_own_stream(store):
    for version in (1, 2, 3):
        store.append(commit("s", version))
    store.append(commit("other", 1))
    assert store.find_command("s", "cmd-2") == commit("s", 2)
    assert store.find_command("s", "cmd-9") is None
    assert store.find_command("nobody", "cmd-1") is None
