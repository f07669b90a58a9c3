"""Event publisher: an event log's DynamoDB stream -> a Kinesis stream, each event a CloudEvents 1.0 JSON
document, partition key = aggregate id. Generic: EVENT_STREAM_NAME, CLOUDEVENTS_SOURCE and
CLOUDEVENTS_TYPE_PREFIX say which log it publishes where, so the payments log reuses this function as is."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from microsystem.publishing import KinesisPublisher
from microsystem.stream import batch_response, decode_dynamodb_stream

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
publisher = KinesisPublisher(
    os.environ["EVENT_STREAM_NAME"],
    boto3.client("kinesis"),
    source=os.environ["CLOUDEVENTS_SOURCE"],
    type_prefix=os.environ["CLOUDEVENTS_TYPE_PREFIX"],
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = decode_dynamodb_stream(event)
    result = publisher.publish(records)
    for failure in result.failures:
        logger.error(
            "record not published",
            sequence_number=failure.sequence_number,
            stream=failure.stream,
            reason=failure.reason,
        )
    metrics.add_metric(name="PublishedEvents", unit=MetricUnit.Count, value=result.events_published)
    metrics.add_metric(name="PublishRetries", unit=MetricUnit.Count, value=result.retried)
    metrics.add_metric(name="PublishFailedRecords", unit=MetricUnit.Count, value=len(result.failures))
    logger.info(
        "batch published",
        records=len(records),
        events=result.events_published,
        requests=result.requests,
        failed=len(result.failures),
    )
    return batch_response(result.failed_sequence_numbers)
