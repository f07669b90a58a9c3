"""Payment commands consumer: applies the commands queued on `payment-commands` (SQS FIFO, one group per
order): RequestPayment gets the payment requested and authorised (or declined) at the provider, VoidPayment
(the saga's compensation) releases it. Thin: read the message, hand it to the payments service, fail it on
error (retried, then parked in the DLQ by the queue's redrive policy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

from eventcore.lambdas.batch_consumer import process_batch
from eventcore.messaging.inbound import consuming_command
from payments.bootstrap import PaymentsWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
service = PaymentsWiring().payment_service()


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    with consuming_command(
        logger,
        record.body,
        payload_keys=("order_id",),
        message_id=record.message_id,
        message_group_id=record.attributes.message_group_id,
    ) as message:
        outcome = service.apply_queued(message)
        logger.info("payment command applied", outcome=outcome)
        if outcome in ("authorized", "declined", "voided"):
            metrics.add_metric(name=f"Payments{outcome.capitalize()}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, record_handler, processor, context, logger=logger, metrics=metrics)
