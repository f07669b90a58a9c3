"""Lambda's stream semantics in isolation: a fake function, a fake clock, no moto."""

from __future__ import annotations

from typing import Any

from localcloud.pollers.streams import StreamBatchProcessor, StreamRecord, StreamSettings
from localcloud.workers import Invocation


def records(*numbers: int, arrival: float = 1000.0) -> list[StreamRecord]:
    return [StreamRecord({"n": n}, str(n), arrival) for n in numbers]


class FakeFunction:
    """Answers each batch with what `respond` says; remembers the batches it saw."""

    def __init__(self, respond: Any) -> None:
        self.respond = respond
        self.batches: list[list[str]] = []

    def __call__(self, batch: list[StreamRecord]) -> Invocation:
        self.batches.append([record.sequence_number for record in batch])
        status, payload = self.respond(batch)
        return Invocation("fn", "test", len(batch), status, 1.0, False, "req-1", payload)


class FakeDestination:
    """Keeps what the processor hands over: the invocation records and the batches' events."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def __call__(self, record: dict[str, Any], event: dict[str, Any]) -> None:
        self.records.append(record)
        self.events.append(event)


def settings(**overrides: Any) -> StreamSettings:
    base = {"function_arn": "arn:fn", "stream_arn": "arn:stream", "shard_id": "shard-1"}
    return StreamSettings(batch_info_key="KinesisBatchInfo", **{**base, **overrides})


class TestStreamBatchProcessor:
    def test_a_partial_response_retries_from_the_lowest_failed_record(self) -> None:
        seen_twice: set[str] = set()

        def respond(batch: list[StreamRecord]) -> tuple[str, Any]:
            failing = [
                r for r in batch if r.sequence_number in ("3", "5") and r.sequence_number not in seen_twice
            ]
            seen_twice.update(r.sequence_number for r in failing)
            return "ok", {"batchItemFailures": [{"itemIdentifier": r.sequence_number} for r in failing]}

        function = FakeFunction(respond)
        StreamBatchProcessor(settings(report_item_failures=True), function, None).process(
            records(1, 2, 3, 4, 5)
        )
        assert function.batches == [["1", "2", "3", "4", "5"], ["3", "4", "5"]]

    def test_an_unknown_item_identifier_fails_the_whole_batch(self) -> None:
        sent = FakeDestination()
        function = FakeFunction(lambda batch: ("ok", {"batchItemFailures": [{"itemIdentifier": "nope"}]}))
        processor = StreamBatchProcessor(settings(report_item_failures=True, max_retries=1), function, sent)
        processor.process(records(1, 2))
        assert function.batches == [["1", "2"], ["1", "2"]]
        assert sent.records[0]["KinesisBatchInfo"]["batchSize"] == 2

    def test_records_past_their_age_go_to_the_destination_without_an_invocation(self) -> None:
        sent = FakeDestination()
        function = FakeFunction(lambda batch: ("ok", None))
        processor = StreamBatchProcessor(
            settings(max_record_age=60), function, sent, clock=lambda: 1000.0 + 61
        )
        processor.process(records(1, 2) + records(3, arrival=1050.0))
        assert function.batches == [["3"]]
        assert sent.records[0]["requestContext"]["condition"] == "RecordAgeExceeded"
        assert sent.records[0]["requestContext"]["approximateInvokeCount"] == 0
        info = sent.records[0]["KinesisBatchInfo"]
        assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("1", "2", 2)
        assert info["approximateArrivalOfFirstRecord"] == "1970-01-01T00:16:40.000Z"

    def test_records_that_age_out_while_retrying_are_handed_over(self) -> None:
        now = [1000.0]
        sent = FakeDestination()

        def respond(batch: list[StreamRecord]) -> tuple[str, Any]:
            now[0] += 30
            return "error", None

        function = FakeFunction(respond)
        StreamBatchProcessor(settings(max_record_age=60), function, sent, clock=lambda: now[0]).process(
            records(1)
        )
        assert len(function.batches) == 3
        assert sent.records[0]["requestContext"]["condition"] == "RecordAgeExceeded"

    def test_without_bisect_a_failing_batch_is_retried_whole_then_handed_over(self) -> None:
        sent = FakeDestination()
        function = FakeFunction(lambda batch: ("error", None))
        StreamBatchProcessor(settings(max_retries=2), function, sent).process(records(1, 2, 3))
        assert function.batches == [["1", "2", "3"]] * 3
        assert sent.records[0]["requestContext"]["approximateInvokeCount"] == 3
        assert sent.records[0]["responseContext"]["functionError"] == "Unhandled"

    def test_success_without_report_batch_item_failures_ignores_the_payload(self) -> None:
        function = FakeFunction(lambda batch: ("ok", {"batchItemFailures": [{"itemIdentifier": "1"}]}))
        StreamBatchProcessor(settings(), function, None).process(records(1, 2))
        assert function.batches == [["1", "2"]]

    def test_a_discarded_batch_is_handed_over_with_the_event_the_function_was_invoked_with(self) -> None:
        sent = FakeDestination()
        function = FakeFunction(lambda batch: ("error", None))
        StreamBatchProcessor(settings(max_retries=0, bisect=True), function, sent).process(records(1, 2, 3))
        assert function.batches == [["1", "2", "3"], ["1"], ["2", "3"], ["2"], ["3"]]
        assert sent.events == [{"Records": [{"n": 1}]}, {"Records": [{"n": 2}]}, {"Records": [{"n": 3}]}]
        starts = [record["KinesisBatchInfo"]["startSequenceNumber"] for record in sent.records]
        assert starts == ["1", "2", "3"]
