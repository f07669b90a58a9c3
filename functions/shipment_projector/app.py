"""Shipment projector: the shipping event log's change records -> the ShipmentsView read model warehouse
staff query. Thin: decode the batch, let the core's projector fold it per shipment (one conditional write
per shipment), report failed records."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer

from microsystem import DynamoDBEventStore
from microsystem.batches import report_batch
from microsystem.changes import read_change_records
from microsystem.projection import Projector
from microsystem.viewstore import DynamoDBViewStore
from shipping.projection import shipment_projection

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
projector = Projector(
    shipment_projection,
    DynamoDBEventStore(os.environ["EVENT_LOG_TABLE"], dynamodb),
    DynamoDBViewStore(os.environ["VIEW_TABLE"], dynamodb, key_attribute=shipment_projection.key_attribute),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = read_change_records(event)
    return report_batch(
        logger, metrics, done="projected", records=len(records), outcome=projector.handle(records)
    )
