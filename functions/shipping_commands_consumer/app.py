"""Shipping handler: hears order events on `order-events` (Kinesis, CloudEvents): an order placed gets its
shipment planned, confirmed makes it ready to ship (or holds it as undeliverable when the customer's
personal data was erased meanwhile), cancelled cancels it (unless it left already). Order
events shipping caused itself are acknowledged; anything unknown fails and is parked. Thin: read the record,
hand it to the shipping service, fail it on error."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from eventcore import DeciderRunner, DynamoDBEventStore
from eventcore.lambdas.batch_consumer import process_batch
from eventcore.messaging.inbound import consuming_event
from eventcore.personal_data import PersonalDataVault
from shipping import ShippingService, shipment_decider

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
dynamodb = boto3.client("dynamodb")
service = ShippingService(
    DeciderRunner(shipment_decider, DynamoDBEventStore(os.environ["EVENT_LOG_TABLE"], dynamodb)),
    vault=PersonalDataVault.from_environment(dynamodb),
)


@tracer.capture_method
def record_handler(record: KinesisStreamRecord) -> None:
    with consuming_event(
        logger,
        record.kinesis.data_as_bytes(),
        data_keys=("order_id",),
        sequence_number=record.kinesis.sequence_number,
    ) as event:
        outcome = service.react(event)
        logger.info("order event handled", outcome=outcome)
        if outcome.startswith("cancellation after dispatch"):
            logger.error("an order was cancelled after its parcel left: arrange a return")
            metrics.add_metric(name="CancelledAfterDispatch", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, record_handler, processor, context, logger=logger, metrics=metrics)
