"""Inventory handler: applies the commands queued on `inventory-commands` (SQS FIFO, one group per SKU, so
one writer applies a SKU's reservations in order) to the Stock aggregates: ReserveStock, ReleaseStock and
CommitStock from the order-fulfillment process manager. Thin: read the message, hand it to the inventory
service, fail it on error (retried, then parked in the DLQ); a failure holds back only its SKU's group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

from eventcore.lambdas.batch_consumer import process_batch
from eventcore.messaging.inbound import consuming_command
from inventory.bootstrap import InventoryWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
service = InventoryWiring().inventory_service()


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    with consuming_command(
        logger,
        record.body,
        payload_keys=("sku", "order_id"),
        message_id=record.message_id,
        message_group_id=record.attributes.message_group_id,
    ) as message:
        answer = service.apply_queued(message)
        logger.info(
            "stock command applied",
            recorded=answer.recorded,
            duplicate=answer.replayed,
            version=answer.version,
            available=answer.stock.available,
        )
        for event_type in answer.recorded:
            metrics.add_metric(name=event_type, unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, record_handler, processor, context, logger=logger, metrics=metrics)
