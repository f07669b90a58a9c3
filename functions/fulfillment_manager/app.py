"""Order fulfillment process manager: consumes payment events from the `payment-events` Kinesis stream and
sends the order command each outcome calls for (PaymentAuthorized -> ConfirmOrder, PaymentDeclined ->
CancelOrder) to the `order-commands` SQS FIFO queue: one message group per order, deduplicated by a command
id derived from the causing event. PaymentRequested and PaymentVoided need nothing from orders and are
acknowledged; anything unknown fails and is parked."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from microsystem.batches import process_batch
from microsystem.messages import consuming_event
from orders.fulfillment import command_for_payment, command_message

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
sqs = boto3.client("sqs")
QUEUE_URL = os.environ["ORDER_COMMANDS_QUEUE_URL"]


@tracer.capture_method
def record_handler(record: KinesisStreamRecord) -> None:
    # Every payment event type reaches this function (no filter on the mapping: a filter would silently drop
    # unknown types and garbage on AWS); the decision ignores the known ones orders needs nothing from.
    with consuming_event(
        logger,
        record.kinesis.data_as_bytes(),
        data_keys=("order_id",),
        sequence_number=record.kinesis.sequence_number,
    ) as event:
        command = command_for_payment(event.event_type, event.schema_version, event.data)
        if command is None:
            logger.info("payment event needs nothing from orders")
            return
        message = command_message(command, cause_id=event.event_id, correlation_id=event.correlation_id)
        sqs.send_message(QueueUrl=QUEUE_URL, **message.sqs_entry(group_id=command.order_id))
        logger.info("order command sent", command_type=message.command_type, command_id=message.command_id)
        metrics.add_metric(name=f"{message.command_type}Sent", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, record_handler, processor, context, logger=logger, metrics=metrics)
