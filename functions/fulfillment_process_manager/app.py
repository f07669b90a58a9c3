"""Order-fulfillment process manager: hears order events (order-events), stock answers (inventory-events),
payment answers (payment-events) and the parcel's progress (shipment-events) from Kinesis, and its own
deadlines from the fulfillment-deadlines queue (SQS, delayed messages); for each, the fulfillment service
decides and sends the commands that follow: reservations and commitments to inventory-commands, payment
requests and voids to payment-commands, the parcel's planning, readiness and cancellation to
shipping-commands, the confirmation, cancellation, shipment and delivery to order-commands (the whole
lifecycle: docs/order-lifecycle.md). Every event type reaches it (no filter: a filter would silently drop
unknown types); the ones it needs nothing from are acknowledged, anything unknown fails and is parked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from eventcore.lambdas.batch_consumer import process_batch
from eventcore.messaging.inbound import consuming_event, consuming_queued
from orders.bootstrap import OrdersWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from orders.fulfillment.service import Reaction

logger = Logger()
tracer = Tracer()
metrics = Metrics()
published = BatchProcessor(event_type=EventType.KinesisDataStreams)
deadlines = BatchProcessor(event_type=EventType.SQS)
service = OrdersWiring().fulfillment_service()


@tracer.capture_method
def published_record_handler(record: KinesisStreamRecord) -> None:
    with consuming_event(
        logger,
        record.kinesis.data_as_bytes(),
        data_keys=("order_id",),
        sequence_number=record.kinesis.sequence_number,
    ) as event:
        report(service.react(event))


@tracer.capture_method
def deadline_record_handler(record: SQSRecord) -> None:
    with consuming_queued(logger, record) as message:
        reaction = service.deadline(message)
        report(reaction)
        if "FulfillmentCancelled" in reaction.recorded:
            metrics.add_metric(name="FulfillmentDeadlinesPassed", unit=MetricUnit.Count, value=1)


def report(reaction: Reaction) -> None:
    logger.info(
        "fulfillment decided" if reaction.order_id else "nothing for the fulfillment to do",
        recorded=reaction.recorded,
        sent=reaction.sent,
        replayed=reaction.replayed,
    )
    for event_type in reaction.recorded:
        metrics.add_metric(name=event_type, unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # One function, four event source mappings: each invocation's batch comes from one of them.
    records = event.get("Records") if isinstance(event, dict) else None
    first = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else {}
    if first.get("eventSource") == "aws:sqs":
        return process_batch(
            event, deadline_record_handler, deadlines, context, logger=logger, metrics=metrics
        )
    # In the standby region it hears and records, and sends nothing (docs/failover.md): never held.
    return process_batch(
        event,
        published_record_handler,
        published,
        context,
        logger=logger,
        metrics=metrics,
        hold_while_passive=False,
    )
