"""Order command handler: applies the commands queued on `order-commands` (SQS FIFO) to the Order aggregate
through the orders service. The command id travels with the message, so a redelivery writes nothing new. A
refusal the service calls final is logged and acknowledged; any other refusal and an unreadable message
fail, and the queue's redrive policy parks them in the DLQ. A failure stops the rest of that order's
message group only, so other orders keep moving."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

from eventcore.lambdas.batch_consumer import process_batch
from eventcore.messaging.inbound import consuming_queued
from orders.bootstrap import OrdersWiring
from orders.service import QueuedCommandApplied, QueuedCommandRefused

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
service = OrdersWiring().order_service()


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    with consuming_queued(logger, record) as message:
        match service.apply_queued(message):
            case QueuedCommandRefused(rejection=rejection):
                # The order's answer is final and the saga's other branch has already made it safe.
                logger.warning(
                    "order command rejected", reason=rejection.message, rule=type(rejection).__name__
                )
                metrics.add_metric(name="OrderCommandsRejected", unit=MetricUnit.Count, value=1)
            case QueuedCommandApplied(answer=answer):
                logger.info(
                    "order command applied",
                    recorded=answer.recorded,
                    duplicate=answer.replayed,
                    version=answer.version,
                    status=answer.order.status,
                )
                if answer.recorded:
                    metrics.add_metric(name=f"{message.command_type}Applied", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, record_handler, processor, context, logger=logger, metrics=metrics)
