"""The Shipment aggregate's events: the facts stored in the shipping event log and published on
`shipment-events`, a storage and integration contract. Change a stored shape only by bumping the event's
`schema_version` and registering an upcaster below."""

from typing import Literal

from pydantic import AwareDatetime

from eventcore import Event, EventRegistry
from eventcore.personal_data import SealedData
from shipping.commands import ShipmentLine


class ShipmentPlanned(Event):
    """An order was placed: its lines will be shipped to `destination_country` once it is confirmed.
    `personal` is the customer's address as the order sealed it (ciphertext and key reference only)."""

    shipment_id: str
    order_id: str
    customer_id: str
    lines: tuple[ShipmentLine, ...]
    destination_country: str
    personal: SealedData | None = None
    planned_at: AwareDatetime


class ShipmentReady(Event):
    """The order is confirmed: the parcel is to be picked and dispatched."""

    shipment_id: str
    order_id: str
    ready_at: AwareDatetime


class ShipmentDispatched(Event):
    shipment_id: str
    order_id: str
    carrier: str
    tracking_number: str
    dispatched_at: AwareDatetime


class ShipmentDelivered(Event):
    shipment_id: str
    order_id: str
    delivered_at: AwareDatetime


class ShipmentCancelled(Event):
    """Nothing will be shipped: the order was cancelled before its parcel left."""

    shipment_id: str
    order_id: str
    reason: str
    cancelled_at: AwareDatetime


class ShipmentUndeliverable(Event):
    """The parcel cannot be shipped (its address was erased with the customer's personal data): it is held,
    and the order is to be cancelled, its stock released and its payment voided."""

    shipment_id: str
    order_id: str
    reason: Literal["address_erased"]
    noticed_at: AwareDatetime


ShipmentEvent = (
    ShipmentPlanned
    | ShipmentReady
    | ShipmentDispatched
    | ShipmentDelivered
    | ShipmentCancelled
    | ShipmentUndeliverable
)

shipment_events = EventRegistry(
    [
        ShipmentPlanned,
        ShipmentReady,
        ShipmentDispatched,
        ShipmentDelivered,
        ShipmentCancelled,
        ShipmentUndeliverable,
    ]
)
