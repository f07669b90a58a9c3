"""The frame every batch consumer answers Lambda with: an all-failed batch still names its failures, and an
empty or foreign-shaped batch is answered (and reported) instead of raising."""

from __future__ import annotations

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor

from eventcore.lambdas.batch_consumer import RecordFailure, process_batch, process_change_batch
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
