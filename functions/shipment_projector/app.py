"""Shipment projector: the shipping event log's change records -> the ShipmentsView read model warehouse
staff query, every generation of it the registry says is fed (each with its own projection). Thin: decode
the batch, let the core fold it per shipment (one conditional write per shipment and generation), report
failed records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from eventcore.lambdas.batch_consumer import process_change_batch
from shipping.bootstrap import ShippingWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
shipping = ShippingWiring()
projector = shipping.shipment_projector()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_change_batch(event, projector.handle, logger=logger, metrics=metrics, done="projected")
