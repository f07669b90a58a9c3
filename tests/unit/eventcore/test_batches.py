"""The frame every batch consumer answers Lambda with: an all-failed batch still names its failures, and an
empty or foreign-shaped batch is answered (and reported) instead of raising; an SQS FIFO batch's groups run
concurrently with each group in order and the FIFO partial batch response kept exactly; a record's log keys
stay with its thread."""

from __future__ import annotations

import copy
import io
import json
import logging
import threading
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor

from eventcore.lambdas.batch_consumer import (
    RecordFailure,
    process_batch,
    process_change_batch,
    process_fifo_groups,
)
from eventcore.messaging.inbound import PerThreadRecordLogger, consuming_command
from eventcore.write.command_ids import derived_id
from tests.support.lambdas import LambdaContext, sample_event

logger = Logger(service="tests")
metrics = Metrics(namespace="tests")


def failing(record) -> None:
    raise RuntimeError("always")


@pytest.fixture(autouse=True)
def no_metrics_left_over():
    yield
    metrics.clear_metrics()


class TestProcessBatch:
    def test_a_batch_where_every_record_fails_still_answers_with_its_failures(self):
        event = sample_event("kinesis_order_created.json")
        response = process_batch(
            event,
            failing,
            BatchProcessor(EventType.KinesisDataStreams),
            LambdaContext(),
            logger=logger,
            metrics=metrics,
        )
        expected = [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"]]
        assert response == {"batchItemFailures": expected}

    def test_a_fifo_batch_where_every_message_fails_still_answers_with_its_failures(self):
        event = sample_event("sqs_fifo_confirm_order.json")
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        response = process_batch(event, failing, processor, LambdaContext(), logger=logger, metrics=metrics)
        assert response == {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
        }

    @pytest.mark.parametrize(
        "event",
        [
            {},
            {"Records": []},
            {"Records": "x"},
            {"Records": [1]},
            {
                "Records": [{"eventSource": "aws:sqs", "messageId": "m-1"}]
            },  # an SQS record to a Kinesis consumer
            {"detail-type": "Scheduled Event", "detail": {}},
        ],
    )
    def test_an_empty_or_foreign_batch_is_answered_without_an_exception(self, event):
        response = process_batch(
            event,
            failing,
            BatchProcessor(EventType.KinesisDataStreams),
            LambdaContext(),
            logger=logger,
            metrics=metrics,
        )
        assert response == {"batchItemFailures": []}
        assert metrics.metric_set["UnprocessableBatches"]["Value"] == [1.0]


class EveryRecordFailed:
    """A change-record consumer's outcome in which every record it was given failed."""

    def __init__(self, records) -> None:
        self.failures = [RecordFailure(r.sequence_number, r.stream_id, "always") for r in records]

    def figures(self) -> dict[str, int]:
        return {"RecordsFailed": len(self.failures)}


class TestProcessChangeBatch:
    def test_a_batch_where_every_record_fails_still_answers_with_its_failures(self):
        event = sample_event("ddb_stream_order_lifecycle.json")
        response = process_change_batch(event, EveryRecordFailed, logger=logger, metrics=metrics, done="x")
        expected = [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"]]
        assert response == {"batchItemFailures": expected}

    @pytest.mark.parametrize(
        "event",
        [{}, {"Records": []}, {"Records": [1]}, sample_event("sqs_fifo_confirm_order.json")],
        ids=["no records", "empty", "not records", "SQS messages"],
    )
    def test_an_empty_or_foreign_batch_is_answered_without_an_exception(self, event):
        response = process_change_batch(event, EveryRecordFailed, logger=logger, metrics=metrics, done="x")
        assert response == {"batchItemFailures": []}
        assert metrics.metric_set["UnprocessableBatches"]["Value"] == [1.0]


class TestDerivedIds:
    def test_parts_with_separators_never_collide(self):
        assert derived_id("CancelOrder", "a", "x:k") != derived_id("CancelOrder", "a:x", "k")

    def test_plain_parts_read_unchanged(self):
        assert derived_id("VoidPayment", "0b6c3f8e-51a4-4f7d-9c0e-7a2d4b1e9f35") == (
            "VoidPayment:0b6c3f8e-51a4-4f7d-9c0e-7a2d4b1e9f35"
        )


def fifo_batch(*groups: str | None) -> dict[str, Any]:
    """An SQS FIFO batch of the sample message, one message per group named (None: no group, as from a
    standard queue), each body naming its group and its position in the batch."""
    template = sample_event("sqs_fifo_confirm_order.json")["Records"][0]
    records = []
    for position, group in enumerate(groups):
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps({"group": group, "position": position})
        if group is None:
            record["attributes"].pop("MessageGroupId", None)
        else:
            record["attributes"]["MessageGroupId"] = group
        records.append(record)
    return {"Records": records}


def ids(event: dict[str, Any], *positions: int) -> list[str]:
    return [event["Records"][p]["messageId"] for p in positions]


class TestProcessFifoGroups:
    def test_each_groups_messages_are_handled_in_delivery_order(self):
        event = fifo_batch("a", "b", "a", "c", "b", "a")
        seen: list[tuple[str, int]] = []
        lock = threading.Lock()

        def handler(record) -> int:
            body = json.loads(record.body)
            with lock:
                seen.append((body["group"], body["position"]))
            return body["position"]

        batch = process_fifo_groups(
            event, handler, LambdaContext(), logger=logger, metrics=metrics, concurrency=3
        )
        assert batch.response == {"batchItemFailures": []}
        for group in "abc":
            assert [p for g, p in seen if g == group] == sorted(p for g, p in seen if g == group)
        assert batch.results == [0, 1, 2, 3, 4, 5]  # in delivery order, whatever order the groups finished in

    def test_groups_are_in_the_handler_at_the_same_time(self):
        # Three groups meet at a barrier: handled one after another, the first would wait there alone and
        # its record fail when the barrier breaks.
        event = fifo_batch("a", "b", "c")
        barrier = threading.Barrier(3, timeout=10)

        def handler(record) -> None:
            barrier.wait()

        batch = process_fifo_groups(
            event, handler, LambdaContext(), logger=logger, metrics=metrics, concurrency=3
        )
        assert batch.response == {"batchItemFailures": []}

    def test_no_more_groups_run_at_once_than_the_concurrency(self):
        event = fifo_batch(*"abcdefgh")
        running, most = 0, 0
        lock = threading.Lock()

        def handler(record) -> None:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            with lock:
                running -= 1

        process_fifo_groups(event, handler, LambdaContext(), logger=logger, metrics=metrics, concurrency=2)
        assert most <= 2

    def test_a_failed_message_fails_its_groups_later_messages_and_nothing_else(self):
        event = fifo_batch("a", "b", "a", "c", "a", "b")

        def handler(record) -> None:
            if json.loads(record.body)["position"] == 2:  # the second message of group a
                raise RuntimeError("provider unavailable")

        batch = process_fifo_groups(
            event, handler, LambdaContext(), logger=logger, metrics=metrics, concurrency=3
        )
        assert batch.response == {"batchItemFailures": [{"itemIdentifier": i} for i in ids(event, 2, 4)]}

    def test_messages_without_a_group_are_each_their_own(self):
        event = fifo_batch(None, None, None)

        def handler(record) -> None:
            if json.loads(record.body)["position"] == 0:
                raise RuntimeError("always")

        batch = process_fifo_groups(
            event, handler, LambdaContext(), logger=logger, metrics=metrics, concurrency=3
        )
        assert batch.response == {"batchItemFailures": [{"itemIdentifier": i} for i in ids(event, 0)]}

    def test_a_batch_where_every_message_fails_still_answers_with_its_failures(self):
        event = fifo_batch("a", "b", "a")
        batch = process_fifo_groups(
            event, failing, LambdaContext(), logger=logger, metrics=metrics, concurrency=3
        )
        assert batch.response == {"batchItemFailures": [{"itemIdentifier": i} for i in ids(event, 0, 1, 2)]}

    @pytest.mark.parametrize("event", [{}, {"Records": []}, sample_event("kinesis_order_created.json")])
    def test_an_empty_or_foreign_batch_is_answered_without_an_exception(self, event):
        batch = process_fifo_groups(
            event, failing, LambdaContext(), logger=logger, metrics=metrics, concurrency=3
        )
        assert batch.response == {"batchItemFailures": []}
        assert metrics.metric_set["UnprocessableBatches"]["Value"] == [1.0]


class TestPerThreadRecordLogger:
    def test_each_records_keys_stay_on_its_own_threads_lines(self):
        # GIVEN two records handled at once, each logging while the other is inside its frame
        stream = io.StringIO()
        shared = Logger(service="tests-threads", logger_handler=logging.StreamHandler(stream))
        record_logger = PerThreadRecordLogger(shared)
        barrier = threading.Barrier(2, timeout=10)

        def handle(order_id: str) -> None:
            body = json.dumps(
                {
                    "command_type": "RequestPayment",
                    "command_id": f"c-{order_id}",
                    "payload": {"order_id": order_id},
                    "correlation_id": f"corr-{order_id}",
                }
            )
            with consuming_command(
                record_logger, body, payload_keys=("order_id",), message_id=f"m-{order_id}"
            ):
                barrier.wait()  # both frames open
                shared.info("applied")
                barrier.wait()  # both lines written before either frame closes

        threads = [threading.Thread(target=handle, args=(order,)) for order in ("o-1", "o-2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        shared.info("after")
        # THEN each line carries its own record's order id, message id and correlation id, and none leaks
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        applied = {line["order_id"]: line for line in lines if line["message"] == "applied"}
        assert set(applied) == {"o-1", "o-2"}
        for order_id, line in applied.items():
            assert (line["message_id"], line["correlation_id"]) == (f"m-{order_id}", f"corr-{order_id}")
        (after,) = [line for line in lines if line["message"] == "after"]
        assert "order_id" not in after
        assert "correlation_id" not in after
