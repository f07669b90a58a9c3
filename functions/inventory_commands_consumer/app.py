"""Inventory router: reads the commands queued on `inventory-commands` (SQS FIFO, one group per order, from
the order-fulfillment process manager: ReserveStock, ReleaseStock, CommitStock) and forwards each, unchanged,
to `inventory-buckets` in the message group of the bucket of the SKU's stock it belongs in (its order's
home bucket), where one writer per bucket decides them in batches. Nothing about buckets is known to the
sender. Thin: read, ask the inventory service for the bucket, send the batch's commands in one go. A message
that cannot be routed fails, and so do the ones after it in its order's group (kept in order)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from eventcore.errors import EventCoreError
from eventcore.lambdas.batch_consumer import process_queued_batch
from eventcore.messaging.command_sender import OutgoingCommand
from eventcore.messaging.inbound import MalformedMessageError, parse_command_message
from inventory import StockConfigError, StockError, bucket_id
from inventory.bootstrap import BUCKETS, InventoryWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from eventcore.lambdas.batch_consumer import QueuedRecord

logger = Logger()
tracer = Tracer()
metrics = Metrics()
wiring = InventoryWiring()
service = wiring.inventory_service()
sender = wiring.bucket_sender()


@tracer.capture_method
def route(records: list[QueuedRecord]) -> set[str]:
    failed: set[str] = set()
    held_back: set[str | None] = set()  # order groups with a failed message: the later ones wait for it
    routed: list[tuple[str, OutgoingCommand]] = []
    for record in records:
        if record.group_id in held_back:
            failed.add(record.message_id)
            continue
        try:
            message = parse_command_message(record.body)
            sku, bucket = service.bucket_for(message)
        except (MalformedMessageError, StockError, StockConfigError) as error:
            logger.error("command not routed", message_id=record.message_id, reason=str(error))
            failed.add(record.message_id)
            held_back.add(record.group_id)
            continue
        routed.append((record.message_id, OutgoingCommand(BUCKETS, message, group_id=bucket_id(sku, bucket))))
    try:
        sender.send([command for _, command in routed])
    except EventCoreError as error:
        logger.error("commands not forwarded to their buckets", reason=str(error), commands=len(routed))
        return failed | {message_id for message_id, _ in routed}
    metrics.add_metric(name="CommandsRouted", unit=MetricUnit.Count, value=len(routed))
    logger.info("commands routed", routed=len(routed), failed=len(failed))
    return failed


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_queued_batch(event, route, logger=logger, metrics=metrics)
