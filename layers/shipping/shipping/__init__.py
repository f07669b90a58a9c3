"""The shipping domain: a Shipment per order (the Shipment decider), planned when the order is placed and
ready once it is confirmed, dispatched and delivered by warehouse staff; its read model and queries for
staff, and the service. Knows the orders context only through its published events."""

from shipping.commands import (
    CancelShipment,
    DeliverShipment,
    DispatchShipment,
    HoldUndeliverable,
    MarkReady,
    PlanShipment,
    ShipmentCommand,
    ShipmentLine,
)
from shipping.errors import (
    AlreadyDispatchedError,
    ShipmentAddressErasedError,
    ShipmentAddressMissingError,
    ShipmentAlreadyLeftError,
    ShipmentCancelledError,
    ShipmentError,
    ShipmentNotDispatchedError,
    ShipmentNotFoundError,
    ShipmentNotReadyError,
)
from shipping.events import (
    ShipmentCancelled,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentEvent,
    ShipmentPlanned,
    ShipmentReady,
    ShipmentUndeliverable,
    shipment_events,
)
from shipping.service import ShipmentAnswer, ShippingService
from shipping.shipment import Shipment, ShipmentStatus, decide, evolve, shipment_decider, shipment_id_for

__all__ = [
    "AlreadyDispatchedError",
    "CancelShipment",
    "DeliverShipment",
    "DispatchShipment",
    "HoldUndeliverable",
    "MarkReady",
    "PlanShipment",
    "Shipment",
    "ShipmentAddressErasedError",
    "ShipmentAddressMissingError",
    "ShipmentAlreadyLeftError",
    "ShipmentAnswer",
    "ShipmentCancelled",
    "ShipmentCancelledError",
    "ShipmentCommand",
    "ShipmentDelivered",
    "ShipmentDispatched",
    "ShipmentError",
    "ShipmentEvent",
    "ShipmentLine",
    "ShipmentNotDispatchedError",
    "ShipmentNotFoundError",
    "ShipmentNotReadyError",
    "ShipmentPlanned",
    "ShipmentReady",
    "ShipmentStatus",
    "ShipmentUndeliverable",
    "ShippingService",
    "decide",
    "evolve",
    "shipment_decider",
    "shipment_events",
    "shipment_id_for",
]
