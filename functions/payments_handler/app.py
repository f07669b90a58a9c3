"""Payments handler: consumes order events from the `order-events` Kinesis stream (CloudEvents). An order
placed gets its payment requested and authorised (or declined); an order cancelled gets its payment voided,
the saga's compensation. Order events payments has no business with (OrderConfirmed, OrderShipped) are
acknowledged; anything unknown fails and is parked. Thin: read the record, hand it to the payments service,
fail it on error."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from microsystem import DeciderRunner, DynamoDBEventStore
from microsystem.messages import consuming_event
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
    # Every order event type reaches this function (no filter on the mapping: a filter would silently drop
    # unknown types and garbage on AWS). The service ignores the types payments has no business with and
    # raises on anything it does not know, so that is reported and parked.
    with consuming_event(
        logger,
        record.kinesis.data_as_bytes(),
        data_keys=("order_id",),
        sequence_number=record.kinesis.sequence_number,
    ) as event:
        outcome = service.handle(event)
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
