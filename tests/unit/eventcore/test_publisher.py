"""The generic publisher against a fake Kinesis: CloudEvents that validate against the JSON format, order per
aggregate kept through partial PutRecords failures, bounded retries, and failures reported per aggregate."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import jsonschema
import pytest

from eventcore.messaging.cloudevents import (
    CloudEventType,
    InvalidCloudEventError,
    commit_to_cloudevents,
    parse_cloudevent,
)
from eventcore.messaging.publisher import KinesisPublisher, backoff
from eventcore.read.change_records import ChangeRecord, decode_change_record
from tests.support.read_side import commits_for, ddb_record, lifecycle, sequence_number

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

SCHEMA = json.loads((Path(__file__).parents[2] / "support" / "cloudevents.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
SOURCE = "urn:orders-microsystem:orders"
PREFIX = "com.example.orders"


def assert_valid_cloudevent(document: dict[str, Any]) -> None:
    errors = sorted(VALIDATOR.iter_errors(document), key=str)
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]
    assert urlsplit(document["source"]).scheme or document["source"].startswith("/"), (
        "source: a URI-reference"
    )


class FakeKinesis:
    """PutRecords that fails the entries `fail(partition_key, event_id, attempt)` says should fail."""

    def __init__(self, fail=lambda key, event_id, attempt: None) -> None:
        self.requests: list[list[tuple[str, dict[str, Any]]]] = []
        self.stored: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._fail = fail
        self._attempts: dict[str, int] = defaultdict(int)

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        request = [(r["PartitionKey"], json.loads(r["Data"])) for r in Records]
        self.requests.append(request)
        results = []
        for key, document in request:
            attempt = self._attempts[document["id"]]
            self._attempts[document["id"]] += 1
            error = self._fail(key, document["id"], attempt)
            if error:
                results.append({"ErrorCode": error, "ErrorMessage": "slow down"})
            else:
                self.stored[key].append(document)
                results.append({"SequenceNumber": "1", "ShardId": "shardId-000000000000"})
        return {"FailedRecordCount": sum(1 for r in results if "ErrorCode" in r), "Records": results}


def batch(*histories: tuple[str, int]) -> tuple[list, dict[str, list]]:
    """Records of orders interleaved commit by commit; and each order's commits."""
    commits = {
        order_id: commits_for(order_id, lifecycle(order_id, steps=steps)) for order_id, steps in histories
    }
    longest = max(len(c) for c in commits.values())
    interleaved = [c[i] for i in range(longest) for c in commits.values() if i < len(c)]
    records = [decode_change_record(ddb_record(c, sequence_number(i))) for i, c in enumerate(interleaved)]
    return records, commits


def publisher(kinesis: FakeKinesis, **options: Any) -> KinesisPublisher:
    return KinesisPublisher(
        "order-events",
        cast("KinesisClient", kinesis),
        source=SOURCE,
        type_prefix=PREFIX,
        sleep=lambda _: None,
        **options,
    )


class TestCloudEvents:
    def test_every_event_becomes_a_valid_cloudevent(self):
        (commit,) = commits_for("0b5e6c1e-5a41-4d7c-9b8a-1c2d3e4f5a6b", lifecycle("x", steps=1))
        (document,) = commit_to_cloudevents(commit, source=SOURCE, type_prefix=PREFIX)
        assert_valid_cloudevent(document)
        assert document["type"] == "com.example.orders.OrderCreated.v4"
        assert document["id"] == commit.events[0].event_id
        assert document["subject"] == "0b5e6c1e-5a41-4d7c-9b8a-1c2d3e4f5a6b"
        assert document["partitionkey"] == document["subject"]
        assert document["sequence"] == "000000000001"
        assert document["correlationid"] == "corr-1"
        assert document["data"]["total"] == 4365
        assert parse_cloudevent(document) is document

    def test_the_sequence_extension_sorts_as_text_in_version_order(self):
        commits = commits_for("a", lifecycle("a", steps=3), per_commit=3)
        documents = commit_to_cloudevents(commits[0], source=SOURCE, type_prefix=PREFIX)
        sequences = [d["sequence"] for d in documents]
        assert sequences == sorted(sequences) == ["000000000001", "000000000002", "000000000003"]

    def test_the_type_names_the_event_and_its_schema_version(self):
        assert CloudEventType.parse("com.example.orders.OrderCreated.v2") == CloudEventType(
            "com.example.orders", "OrderCreated", 2
        )
        with pytest.raises(InvalidCloudEventError):
            CloudEventType.parse("com.example.orders.OrderCreated")

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"specversion": "0.3"}, "specversion"),
            ({"id": ""}, "id"),
            ({"Sequence": "1"}, "lower-case"),
        ],
    )
    def test_documents_that_break_the_format_are_refused(self, change, problem):
        (commit,) = commits_for("a", lifecycle("a", steps=1))
        (document,) = commit_to_cloudevents(commit, source=SOURCE, type_prefix=PREFIX)
        broken = {**document, **change}
        with pytest.raises(InvalidCloudEventError, match=problem):
            parse_cloudevent(broken)
        assert list(VALIDATOR.iter_errors(broken))


class TestPublisher:
    def test_publishes_every_event_in_order_with_the_aggregate_id_as_partition_key(self):
        records, _ = batch(("a", 3), ("b", -1))
        kinesis = FakeKinesis()
        result = publisher(kinesis).publish(records)
        assert result.failures == []
        assert result.events_published == 5
        assert [d["type"].split(".")[-2] for d in kinesis.stored["a"]] == [
            "OrderCreated",
            "OrderConfirmed",
            "OrderShipped",
        ]
        assert [d["sequence"] for d in kinesis.stored["b"]] == ["000000000001", "000000000002"]
        for documents in kinesis.stored.values():
            for document in documents:
                assert_valid_cloudevent(document)

    def test_a_request_never_carries_two_events_of_one_aggregate(self):
        records, _ = batch(("a", 3), ("b", 3), ("c", 2))
        kinesis = FakeKinesis()
        publisher(kinesis).publish(records)
        for request in kinesis.requests:
            keys = [key for key, _ in request]
            assert len(keys) == len(set(keys))

    def test_a_partly_failed_put_keeps_each_aggregates_order(self):
        # GIVEN Kinesis throttles a's first event twice
        records, commits = batch(("a", 3), ("b", 3))
        first_of_a = commits["a"][0].events[0].event_id
        kinesis = FakeKinesis(
            lambda key, event_id, attempt: (
                "ProvisionedThroughputExceededException" if event_id == first_of_a and attempt < 2 else None
            )
        )
        # WHEN the batch is published
        result = publisher(kinesis).publish(records)
        # THEN everything got through, and a's events still arrived in version order
        assert result.failures == []
        assert result.retried == 2
        assert [d["sequence"] for d in kinesis.stored["a"]] == [
            "000000000001",
            "000000000002",
            "000000000003",
        ]
        assert [d["sequence"] for d in kinesis.stored["b"]] == [
            "000000000001",
            "000000000002",
            "000000000003",
        ]

    def test_an_event_that_keeps_failing_reports_its_record_and_the_aggregates_later_records(self):
        records, commits = batch(("a", 3), ("b", 3))
        second_of_a = commits["a"][1].events[0].event_id
        kinesis = FakeKinesis(
            lambda key, event_id, attempt: "InternalFailure" if event_id == second_of_a else None
        )
        result = publisher(kinesis, max_attempts=3).publish(records)
        # a's records at versions 2 and 3 (positions 2 and 4) go back to Lambda; b is complete
        assert result.failed_sequence_numbers == [sequence_number(2), sequence_number(4)]
        assert [d["sequence"] for d in kinesis.stored["a"]] == ["000000000001"]
        assert len(kinesis.stored["b"]) == 3

    def test_a_whole_request_failing_is_retried_like_entry_failures(self):
        records, _ = batch(("a", 2))

        class Unavailable(FakeKinesis):
            calls = 0

            def put_records(self, **kwargs: Any) -> dict[str, Any]:
                self.calls += 1
                if self.calls == 1:
                    raise ConnectionError("endpoint unavailable")
                return super().put_records(**kwargs)

        kinesis = Unavailable()
        result = publisher(kinesis).publish(records)
        assert result.failures == []
        assert len(kinesis.stored["a"]) == 2

    def test_an_undecodable_record_blocks_only_its_own_aggregate(self):
        records, _ = batch(("a", 2), ("b", 2))
        raw = ddb_record(None, sequence_number(0), image={"stream": {"S": "Order-a"}, "version": {"N": "1"}})
        records[0] = decode_change_record(raw)
        kinesis = FakeKinesis()
        result = publisher(kinesis).publish(records)
        assert result.failed_sequence_numbers == [sequence_number(0), sequence_number(2)]
        assert "a" not in kinesis.stored
        assert len(kinesis.stored["b"]) == 2


def padded(commit, size: int, *, event: int = 0):
    """The commit with one event's data padded so its CloudEvent is about `size` bytes."""
    events = list(commit.events)
    payload = {**events[event].payload(), "padding": ""}
    base = len(json.dumps(payload, separators=(",", ":"))) + 400  # the CloudEvent's other attributes
    payload["padding"] = "x" * max(size - base, 0)
    events[event] = replace(events[event], data=json.dumps(payload))
    return replace(commit, events=tuple(events))


def records_of(*commits) -> list[ChangeRecord]:
    return [ChangeRecord(sequence_number(i), c.stream_id, c) for i, c in enumerate(commits)]


class TestBackoffAndLimits:
    def test_backoff_follows_the_failing_events_own_attempts_not_the_round(self):
        # GIVEN b's third event fails twice, in the third round of the batch (a and b went through twice)
        records, commits = batch(("a", 3), ("b", 3))
        third_of_b = commits["b"][2].events[0].event_id
        kinesis = FakeKinesis(
            lambda key, event_id, attempt: (
                "InternalFailure" if event_id == third_of_b and attempt < 2 else None
            )
        )
        sleeps: list[float] = []
        result = KinesisPublisher(
            "order-events", kinesis, source=SOURCE, type_prefix=PREFIX, sleep=sleeps.append
        ).publish(records)
        # THEN the waits are those of a first and a second retry, however late in the batch they come
        assert result.failures == []
        assert sleeps == [0.05, 0.1]

    def test_backoff_doubles_per_attempt_up_to_a_second(self):
        assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]

    def test_requests_stay_under_five_mebibytes(self):
        # GIVEN 12 orders whose first event is 900 KB each (12 * 900 KB is over 10 MiB)
        orders = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(12)]
        commits = [padded(commits_for(o, lifecycle(o, steps=1))[0], 900_000) for o in orders]
        kinesis = FakeKinesis()
        result = publisher(kinesis).publish(records_of(*commits))
        assert result.failures == []
        assert result.events_published == 12
        sizes = [sum(len(json.dumps(d)) + len(key) for key, d in request) for request in kinesis.requests]
        assert len(kinesis.requests) >= 3
        assert all(size <= 5 * 1024 * 1024 for size in sizes), sizes

    def test_requests_stay_under_five_hundred_entries(self):
        records = records_of(*(commits_for(f"o{i}", lifecycle(f"o{i}", steps=1))[0] for i in range(1201)))
        kinesis = FakeKinesis()
        result = publisher(kinesis).publish(records)
        assert result.events_published == 1201
        assert [len(request) for request in kinesis.requests] == [500, 500, 201]

    def test_an_event_over_one_mebibyte_is_reported_at_once_without_retries(self):
        # GIVEN a's second commit holds an event that is over 1 MiB as a CloudEvent
        a = commits_for("a", lifecycle("a", steps=3))
        b = commits_for("b", lifecycle("b", steps=2))
        a[1] = padded(a[1], 1024 * 1024 + 2000)
        records = records_of(a[0], b[0], a[1], b[1], a[2])
        kinesis = FakeKinesis()
        sleeps: list[float] = []
        result = KinesisPublisher(
            "order-events", kinesis, source=SOURCE, type_prefix=PREFIX, sleep=sleeps.append
        ).publish(records)
        # THEN that record and a's later one are reported, with the reason; it was never sent nor retried
        assert result.failed_sequence_numbers == [sequence_number(2), sequence_number(4)]
        assert all("RecordTooLarge" in f.reason and "1048576" in f.reason for f in result.failures)
        assert (result.retried, sleeps) == (0, [])
        assert len(kinesis.stored["a"]) == 1
        assert len(kinesis.stored["b"]) == 2

    def test_a_multi_event_commit_with_one_oversized_event_sends_none_of_its_events(self):
        (commit,) = commits_for("a", lifecycle("a", steps=2), per_commit=2)
        commit = padded(commit, 2 * 1024 * 1024, event=1)
        kinesis = FakeKinesis()
        result = publisher(kinesis).publish(records_of(commit))
        assert result.failed_sequence_numbers == [sequence_number(0)]
        assert kinesis.requests == []
