"""The decider runner on DynamoDB (moto): requests per command, and many writers on one aggregate."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor

import pytest

from eventcore import DeciderRunner, DynamoDBEventStore, TooManyConflictsError, fingerprint
from tests.support.aws import SerialisedClient
from tests.support.counter import Increment, counter_decider


class RequestCounter:
    """Counts the DynamoDB operations a client sends, through botocore's event hooks."""

    def __init__(self, client) -> None:
        self.calls: Tally[str] = Tally()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model, **_) -> None:
        self.calls[model.name] += 1

    def take(self) -> Tally[str]:
        taken, self.calls = self.calls, Tally()
        return taken


def handle(runner: DeciderRunner, stream: str, command_id: str, times: int = 1):
    command = Increment(times=times)
    return runner.handle(
        stream, command, command_id=command_id, fingerprint=fingerprint(command.model_dump())
    )


class TestRequestsPerCommand:
    def test_warm_commands_write_once_and_read_nothing(self, dynamodb, orders_log):
        requests = RequestCounter(dynamodb)
        runner = DeciderRunner(counter_decider(), DynamoDBEventStore(orders_log, dynamodb))
        handle(runner, "s", "first")
        requests.take()
        for i in range(5):
            handle(runner, "s", f"warm-{i}")
        assert requests.take() == {"PutItem": 5}

    def test_a_cold_command_reads_once_whatever_the_stream_length(self, dynamodb, orders_log):
        store = DynamoDBEventStore(orders_log, dynamodb)
        writer = DeciderRunner(counter_decider(snapshot_every=50), store)
        for i in range(120):
            handle(writer, "long", f"cmd-{i}", times=3)
        requests = RequestCounter(dynamodb)
        result = handle(DeciderRunner(counter_decider(snapshot_every=50), store), "long", "cold")
        assert result.state.value == 361
        assert requests.take() == {"Query": 1, "PutItem": 1}

    def test_a_creation_command_writes_without_reading(self, dynamodb, orders_log):
        requests = RequestCounter(dynamodb)
        runner = DeciderRunner(counter_decider(), DynamoDBEventStore(orders_log, dynamodb))
        command = Increment()
        runner.handle(
            "new", command, command_id="c", fingerprint=fingerprint(command.model_dump()), expect_new=True
        )
        assert requests.take() == {"PutItem": 1}

    def test_a_lost_race_costs_no_extra_read(self, dynamodb, orders_log):
        store = DynamoDBEventStore(orders_log, dynamodb)
        first, second = DeciderRunner(counter_decider(), store), DeciderRunner(counter_decider(), store)
        handle(first, "s", "a")
        handle(second, "s", "b")
        requests = RequestCounter(dynamodb)
        assert handle(first, "s", "c").version == 3
        assert requests.take() == {"PutItem": 2}


CLIENT_RETRIES = 20


@pytest.mark.parametrize("threads", [16])
def test_concurrent_writers_record_every_acknowledged_command_exactly_once(dynamodb, orders_log, threads):
    # GIVEN one DynamoDB client whose requests are serialised as the real service's conditional writes are,
    # and one runner per thread (each a container with its own memory image)
    requests = RequestCounter(dynamodb)
    client = SerialisedClient(dynamodb, threading.Lock())
    store = DynamoDBEventStore(orders_log, client)
    commands_per_thread = 8

    def worker(n: int) -> list[str]:
        runner = DeciderRunner(counter_decider(snapshot_every=10), store, max_attempts=50)
        acknowledged = []
        for i in range(commands_per_thread):
            command_id = f"t{n}-c{i}"
            # A runner that gives up (50 lost races: a thread starved on a loaded machine) is retried, as
            # SQS redelivers a command whose handler failed; the retry must not record it twice.
            for _ in range(CLIENT_RETRIES):
                try:
                    handle(runner, "hot", command_id, times=1 + i % 3)
                except TooManyConflictsError:
                    continue
                acknowledged.append(command_id)
                break
            if i % 3 == 0:  # a client retry of the same command must not record it again
                assert handle(runner, "hot", command_id, times=1 + i % 3).duplicate
        return acknowledged

    # WHEN they all send commands to the same aggregate at once
    with ThreadPoolExecutor(max_workers=threads) as pool:
        acknowledged = [cid for result in pool.map(worker, range(threads)) for cid in result]

    # THEN every acknowledged command is in the log exactly once, with versions 1..n, no gap, no duplicate
    commits = list(store.read("Counter-hot"))
    recorded = [c.command_id for c in commits]
    assert len(recorded) == len(set(recorded))
    assert sorted(recorded) == sorted(acknowledged)
    assert len(acknowledged) == threads * commands_per_thread
    assert requests.calls["PutItem"] > len(commits), "the writers never raced: the test proves nothing"
    versions = [v for c in commits for v in range(c.version, c.last_version + 1)]
    assert versions == list(range(1, len(versions) + 1))
    final = DeciderRunner(counter_decider(snapshot_every=10), DynamoDBEventStore(orders_log, dynamodb)).load(
        "hot"
    )
    assert final.version == len(versions)
    assert final.state.value == len(versions)
