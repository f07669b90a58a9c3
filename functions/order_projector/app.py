"""Order projector: the orders event log's DynamoDB stream -> the OrdersView read model. Thin: decode the
batch, let the core's projector fold it per order (one conditional write per order), report failed records."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from microsystem import DynamoDBEventStore
from microsystem.projection import Projector
from microsystem.stream import batch_response, decode_dynamodb_stream
from microsystem.viewstore import DynamoDBViewStore
from orders.projection import order_projection

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
projector = Projector(
    order_projection,
    DynamoDBEventStore(os.environ["EVENT_LOG_TABLE"], dynamodb),
    DynamoDBViewStore(os.environ["VIEW_TABLE"], dynamodb, key_attribute=order_projection.key_attribute),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = decode_dynamodb_stream(event)
    result = projector.handle(records)
    for failure in result.failures:
        logger.error(
            "record not projected",
            sequence_number=failure.sequence_number,
            stream=failure.stream,
            reason=failure.reason,
        )
    metrics.add_metric(name="ProjectedEvents", unit=MetricUnit.Count, value=result.events_applied)
    metrics.add_metric(name="ViewRowsWritten", unit=MetricUnit.Count, value=result.rows_written)
    metrics.add_metric(name="ViewWriteConflicts", unit=MetricUnit.Count, value=result.conflicts)
    metrics.add_metric(name="ProjectionGapsFilled", unit=MetricUnit.Count, value=result.gaps_filled)
    metrics.add_metric(name="ProjectionFailedRecords", unit=MetricUnit.Count, value=len(result.failures))
    logger.info(
        "batch projected",
        records=len(records),
        events=result.events_applied,
        rows_written=result.rows_written,
        failed=len(result.failures),
    )
    return batch_response(result.failed_sequence_numbers)
