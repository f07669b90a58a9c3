"""Payments handler: applies the commands queued on `payment-commands` (SQS FIFO, one group per order):
RequestPayment gets the payment requested and authorised (or declined) at the provider, VoidPayment (the
saga's compensation) releases it, CapturePayment takes what shipped, RefundPayment gives a return's refund
back. A batch's orders are handled concurrently, each order's commands in order
(`process_fifo_groups`): a provider answering in ~300 ms no longer makes a batch of ten take three seconds.
Thin: read the message, hand it to the payments service, fail it on error (retried, then parked in the DLQ
by the queue's redrive policy), and with it the order's later commands in the batch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from eventcore.lambdas.batch_consumer import process_fifo_groups
from eventcore.messaging.inbound import PerThreadRecordLogger, consuming_queued
from payments.bootstrap import PaymentsWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

# A FIFO mapping's batch holds at most 10 messages: every order of a batch at once.
CONCURRENT_ORDERS = 10
# What each outcome counts; PaymentsCaptureFailed has an alarm (a parcel left unpaid).
OUTCOME_METRICS = {
    "authorized": "PaymentsAuthorized",
    "declined": "PaymentsDeclined",
    "voided": "PaymentsVoided",
    "captured": "PaymentsCaptured",
    "capture_failed": "PaymentsCaptureFailed",
    "refunded": "PaymentsRefunded",
}

logger = Logger()
tracer = Tracer()
metrics = Metrics()
record_logger = PerThreadRecordLogger(logger)  # records are handled on several threads at once
service = PaymentsWiring().payment_service()


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    with consuming_queued(record_logger, record) as message:
        outcome = service.apply_queued(message)
        logger.info("payment command applied", outcome=outcome)
        return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = process_fifo_groups(
        event, record_handler, context, logger=logger, metrics=metrics, concurrency=CONCURRENT_ORDERS
    )
    for outcome in batch.results:  # Metrics is not thread-safe: added here, on the invocation's thread
        if outcome in OUTCOME_METRICS:
            metrics.add_metric(name=OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=1)
    return batch.response
