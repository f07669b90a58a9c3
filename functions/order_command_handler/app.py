"""Order command handler: applies the commands queued on `order-commands` (SQS FIFO) to the Order aggregate
through the same decider runner as the API. The command id travels with the message, so a redelivery writes
nothing new. A refusal that is final and safe (confirming an order the customer cancelled, whose payment is
voided by the OrderCancelled branch) is logged and acknowledged; any other refusal (e.g. a second, different
payment confirming a paid order) and an unreadable message fail, and the queue's redrive policy parks them
in the DLQ.
A failure stops the rest of that order's message group only, so other orders keep moving."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

from microsystem import DeciderRunner, DynamoDBEventStore, fingerprint
from microsystem.messages import parse_command_message
from orders import OrderAlreadyCancelledError, OrderAlreadyShippedError, OrderError, order_decider
from orders.fulfillment import read_queued_command

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# The order's refusals that are final and safe to acknowledge, per queued command: retrying cannot change
# them, and nothing is left dangling. A ConfirmOrder for an order the customer cancelled first: its payment is
# voided when payments sees OrderCancelled. A CancelOrder (payment declined) for an order already shipped:
# nothing was charged by the declined payment, and a shipped order is never cancelled. Every other refusal
# fails the message.
FINAL_REJECTIONS: dict[str, tuple[type[OrderError], ...]] = {
    "ConfirmOrder": (OrderAlreadyCancelledError,),
    "CancelOrder": (OrderAlreadyShippedError,),
}
runner = DeciderRunner(
    order_decider, DynamoDBEventStore(os.environ["EVENT_LOG_TABLE"], boto3.client("dynamodb"))
)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(None)
    with logger.append_context_keys(
        message_id=record.message_id, message_group_id=record.attributes.message_group_id
    ):
        try:
            message = parse_command_message(record.body)
            logger.set_correlation_id(message.correlation_id)
            command = read_queued_command(message)
        except Exception:
            logger.exception("unreadable command message: failed, to be parked in the DLQ")
            raise
        with logger.append_context_keys(
            command_type=message.command_type, command_id=message.command_id, order_id=command.order_id
        ):
            try:
                result = runner.handle(
                    command.order_id,
                    command,
                    command_id=message.command_id,
                    fingerprint=fingerprint(message.payload),
                    correlation_id=message.correlation_id,
                    causation_id=message.causation_id,
                )
            except FINAL_REJECTIONS.get(message.command_type, ()) as rejection:
                # The order's answer is final and the saga's other branch has already made it safe.
                logger.warning(
                    "order command rejected", reason=rejection.message, rule=type(rejection).__name__
                )
                metrics.add_metric(name="OrderCommandsRejected", unit=MetricUnit.Count, value=1)
                return
            except Exception:
                # Anything else (e.g. PaymentMismatchError: a second payment whose authorisation nobody would
                # void) needs a person: retried, then parked in the DLQ, where the alarm finds it.
                logger.exception("order command failed: will be retried, then parked in the DLQ")
                raise
            logger.info(
                "order command applied",
                recorded=len(result.events),
                duplicate=result.duplicate,
                version=result.version,
                status=result.state.status if result.state else None,
            )
            if result.events:
                metrics.add_metric(name=f"{message.command_type}Applied", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
