"""The shipping context's composition root: its services built from a function's environment, once per
container (the event log, the personal data vault that opens addresses for labels, the shipments read
model in its generations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventcore.lambdas.wiring import Wiring
from shipping.queries import ShipmentQueries
from shipping.read_model import shipment_projection
from shipping.service import ShippingService
from shipping.shipment import shipment_decider

if TYPE_CHECKING:
    from eventcore.read.generations.projector import GenerationalProjector


class ShippingWiring(Wiring):
    def shipping_service(self) -> ShippingService:
        return ShippingService(self.runner(shipment_decider), vault=self.vault)

    def shipment_queries(self) -> ShipmentQueries:
        # The active generation only, resolved through the cached registry (no request per query).
        return ShipmentQueries(self.view(shipment_projection).active_store())

    def shipment_projector(self) -> GenerationalProjector:
        return self.projector(shipment_projection)
