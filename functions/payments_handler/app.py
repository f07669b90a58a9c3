"""Payments handler: consumes order events from the `order-events` Kinesis stream (CloudEvents). An order
placed gets its payment requested and authorised (or declined); an order cancelled gets its payment voided,
the saga's compensation. Thin: read the record, hand it to the payments service, fail it on error."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from microsystem import DeciderRunner, DynamoDBEventStore
from microsystem.messages import parse_cloudevent
from payments import PaymentService, payment_decider, provider_from_environment

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Failures are reported per record even when the whole batch failed: the checkpoint then stays on the first
# failed record, rather than the batch being retried (and bisected) as a function error.
processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
runner = DeciderRunner(
    payment_decider, DynamoDBEventStore(os.environ["EVENT_LOG_TABLE"], boto3.client("dynamodb"))
)
service = PaymentService(runner, provider_from_environment())


@tracer.capture_method
def record_handler(record: KinesisStreamRecord) -> None:
    logger.set_correlation_id(None)
    with logger.append_context_keys(sequence_number=record.kinesis.sequence_number):
        try:
            event = parse_cloudevent(record.kinesis.data_as_bytes())
        except Exception:
            logger.exception("unreadable record: failed, to be parked after the retries")
            raise
        # The id of the request that placed the order: on every line logged for this record.
        logger.set_correlation_id(event.correlation_id)
        with logger.append_context_keys(
            event_id=event.event_id,
            event_type=event.event_type,
            schema_version=event.schema_version,
            order_id=event.data.get("order_id"),
        ):
            try:
                outcome = service.handle(event)
            except Exception:
                logger.exception("order event failed: will be retried, then parked")
                raise
            logger.info("order event handled", outcome=outcome)
            if outcome in ("authorized", "declined", "voided"):
                metrics.add_metric(name=f"Payments{outcome.capitalize()}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
