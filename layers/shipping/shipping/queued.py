"""What the order-fulfillment process may ask of shipping through the shipping-commands queue: the shipping
context's public command contract (docs/event-catalogue.md), by the `command_type` of the message. Each
names the order; shipping derives its shipment from it. A message it cannot read is parked, never guessed
at."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from eventcore.messaging.inbound import QueuedCommands
from eventcore.personal_data import SealedData

Id = Annotated[str, Field(min_length=1, max_length=128)]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: Id
    at: AwareDatetime


class ParcelLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[int, Field(gt=0)]


class PlanShipmentRequest(_Payload):
    """`PlanShipment`: an order was placed; what will go where once it is confirmed. `personal` is the
    address sealed under the customer's key (shipping opens it only for the carrier's label)."""

    customer_id: Id
    lines: Annotated[tuple[ParcelLine, ...], Field(min_length=1)]
    destination_country: Annotated[str, Field(min_length=2, max_length=2)]
    personal: SealedData | None = None


class MarkShipmentReadyRequest(_Payload):
    """`MarkShipmentReady`: the order is confirmed (stock held, payment authorised): the parcel can be
    picked, unless its address was erased meanwhile."""


class CancelShipmentRequest(_Payload):
    """`CancelShipment`: the order was cancelled: nothing is to be shipped."""

    reason: Annotated[str, Field(min_length=1, max_length=64)]


QueuedShippingCommand = PlanShipmentRequest | MarkShipmentReadyRequest | CancelShipmentRequest

QUEUED_COMMANDS: QueuedCommands[QueuedShippingCommand] = QueuedCommands(
    "shipping",
    {
        "PlanShipment": PlanShipmentRequest,
        "MarkShipmentReady": MarkShipmentReadyRequest,
        "CancelShipment": CancelShipmentRequest,
    },
)

read_queued_command = QUEUED_COMMANDS.read
