"""Inventory buckets handler: applies the commands on `inventory-buckets` (SQS FIFO, one message group per
bucket of a SKU's stock, filled by the inventory router) to the Stock aggregates. A batch's commands for one
bucket are decided together, in the order they arrived, and recorded in one commit; a bucket short of units
takes them from its siblings in the same transaction. Thin: read the messages, hand each group to the
inventory service, fail the messages it could not apply (retried, then parked in the DLQ) and, when a whole
group could not be decided (lost races past the limit, a service error), every message of that group."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from eventcore.lambdas.batch_consumer import process_queued_batch
from eventcore.messaging.inbound import CommandMessage, MalformedMessageError, parse_command_message
from inventory import parse_bucket_id
from inventory.bootstrap import InventoryWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from eventcore.lambdas.batch_consumer import QueuedRecord

logger = Logger()
tracer = Tracer()
metrics = Metrics()
service = InventoryWiring().inventory_service()


@tracer.capture_method
def apply(records: list[QueuedRecord]) -> set[str]:
    groups: dict[str, list[tuple[str, CommandMessage]]] = {}
    failed: set[str] = set()
    for record in records:
        try:
            message = parse_command_message(record.body)
        except MalformedMessageError as error:
            logger.error("message unreadable", message_id=record.message_id, reason=str(error))
            failed.add(record.message_id)
            continue
        groups.setdefault(record.group_id or "", []).append((record.message_id, message))
    for group, messages in groups.items():
        failed |= apply_group(group, messages)
    return failed


def apply_group(group: str, messages: list[tuple[str, CommandMessage]]) -> set[str]:
    sku, bucket = parse_bucket_id(group)
    try:
        answer = service.apply_to_bucket(sku, bucket, [message for _, message in messages])
    except Exception:
        logger.exception("bucket batch not applied", sku=sku, bucket=bucket, commands=len(messages))
        return {message_id for message_id, _ in messages}
    failed: set[str] = set()
    recorded: Counter[str] = Counter()
    for (message_id, message), outcome in zip(messages, answer.outcomes, strict=True):
        keys: dict[str, object] = {
            "message_id": message_id,
            "command_type": message.command_type,
            "command_id": message.command_id,
            "order_id": message.payload.get("order_id"),
            "correlation_id": message.correlation_id,
        }
        if outcome.error is not None:
            error = {"reason": str(outcome.error), "error_type": type(outcome.error).__name__}
            logger.error("stock command not applied", extra=keys | error)
            failed.add(message_id)
        else:
            applied = {"recorded": outcome.recorded, "duplicate": outcome.duplicate}
            logger.info("stock command applied", extra=keys | applied)
        recorded.update(outcome.recorded)
    for event_type, count in recorded.items():
        metrics.add_metric(name=event_type, unit=MetricUnit.Count, value=count)
    if answer.moved_in:
        metrics.add_metric(name="StockUnitsMovedIn", unit=MetricUnit.Count, value=answer.moved_in)
    logger.info(
        "bucket batch applied",
        sku=sku,
        bucket=bucket,
        commands=len(messages),
        recorded=sum(recorded.values()),
        failed=len(failed),
        moved_in=answer.moved_in,
        available=answer.available,
    )
    return failed


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_queued_batch(event, apply, logger=logger, metrics=metrics)
