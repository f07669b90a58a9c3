"""What can be asked of a shipment: imperative commands carrying everything a decision needs, including the
time, so deciding stays pure."""

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from eventcore.personal_data import SealedData

Id = Annotated[str, Field(min_length=1, max_length=128)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ShipmentLine(BaseModel):
    """What goes in the parcel: never prices, nor anything else of the customer's order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    name: str
    quantity: int


class PlanShipment(_Command):
    """An order was placed: what will be shipped where, once it is confirmed."""

    shipment_id: Id
    order_id: Id
    customer_id: Id
    lines: tuple[ShipmentLine, ...]
    destination_country: str
    personal: SealedData | None = None
    at: AwareDatetime


class MarkReady(_Command):
    """The order is confirmed (stock held, payment authorised): the parcel can be picked."""

    shipment_id: Id
    at: AwareDatetime


class DispatchShipment(_Command):
    """The parcel left the warehouse with a carrier, under a tracking number."""

    shipment_id: Id
    carrier: Annotated[str, Field(min_length=1, max_length=64)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)]
    at: AwareDatetime


class DeliverShipment(_Command):
    shipment_id: Id
    at: AwareDatetime


class HoldUndeliverable(_Command):
    """The parcel cannot be shipped: the customer's personal data was erased, so its address is unreadable.
    Refused nowhere: a shipment already gone or cancelled simply stays as it is."""

    shipment_id: Id
    reason: Literal["address_erased"]
    at: AwareDatetime


class CancelShipment(_Command):
    """The order was cancelled: nothing is to be shipped (refused once the parcel has left)."""

    shipment_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=64)]
    at: AwareDatetime


ShipmentCommand = (
    PlanShipment | MarkReady | DispatchShipment | DeliverShipment | CancelShipment | HoldUndeliverable
)
