"""Event publisher: an event log's change records -> a Kinesis stream, each event a CloudEvents 1.0 JSON
document, partition key = aggregate id. Generic: EVENT_STREAM_NAME, CLOUDEVENTS_SOURCE and
CLOUDEVENTS_TYPE_PREFIX say which log it publishes where, and PUBLISHED_AGGREGATES (comma-separated, absent:
all) which of the log's aggregates leave the context, so every context's log reuses this function: the
template deploys it once per log (OrderPublisherFunction, PaymentPublisherFunction, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from eventcore.lambdas.batch_consumer import process_change_batch
from eventcore.lambdas.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
publisher = Wiring().publisher()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_change_batch(event, publisher.publish, logger=logger, metrics=metrics, done="published")
