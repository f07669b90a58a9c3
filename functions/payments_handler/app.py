"""Payments handler: consumes order events from the `order-events` Kinesis stream (CloudEvents). An order
placed gets its payment requested and authorised (or declined); an order cancelled gets its payment voided,
the saga's compensation. Order events payments has no business with (OrderConfirmed, OrderShipped) are
acknowledged; anything unknown fails and is parked. Thin: read the record, hand it to the payments service,
fail it on error."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from microsystem import DeciderRunner, DynamoDBEventStore
from microsystem.batches import process_batch
from microsystem.messages import consuming_event
from payments import PaymentService, payment_decider, provider_from_environment

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
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
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, record_handler, processor, context, logger=logger, metrics=metrics)
