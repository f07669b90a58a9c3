"""Shipment projector: the shipping event log's change records -> the ShipmentsView read model warehouse
staff query, every generation of it the registry says is fed (each with its own projection). Thin: decode
the batch, let the core fold it per shipment (one conditional write per shipment and generation), report
failed records."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer

from microsystem import DynamoDBEventStore
from microsystem.batches import report_batch
from microsystem.changes import read_change_records
from microsystem.generational import GenerationalProjector, GenerationalView
from shipping.projection import shipment_projection

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
projector = GenerationalProjector(
    GenerationalView.from_environment(shipment_projection, dynamodb),
    DynamoDBEventStore(os.environ["EVENT_LOG_TABLE"], dynamodb),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = read_change_records(event)
    return report_batch(
        logger, metrics, done="projected", records=len(records), outcome=projector.handle(records)
    )
