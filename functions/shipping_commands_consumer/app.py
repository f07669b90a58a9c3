"""Shipping commands consumer: applies the commands the order-fulfillment process queues on
`shipping-commands` (SQS FIFO, one group per order) to the order's Shipment: PlanShipment when the order
is placed, MarkShipmentReady when it is confirmed (or held as undeliverable when the customer's personal
data was erased meanwhile), CancelShipment when it is cancelled. A cancellation after the parcel left is
acknowledged and reported for a person (a return). Thin: read the message, hand it to the shipping
service, fail it on error (retried, then parked in the DLQ); a failure holds back only its order's group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

from eventcore.lambdas.batch_consumer import process_batch
from eventcore.messaging.inbound import consuming_queued
from shipping.bootstrap import ShippingWiring
from shipping.service import CANCELLED_AFTER_DISPATCH

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
service = ShippingWiring().shipping_service()


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    with consuming_queued(logger, record) as message:
        outcome = service.apply_queued(message)
        logger.info("shipping command applied", outcome=outcome)
        if outcome == CANCELLED_AFTER_DISPATCH:
            logger.error("an order was cancelled after its parcel left: arrange a return")
            metrics.add_metric(name="CancelledAfterDispatch", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, record_handler, processor, context, logger=logger, metrics=metrics)
