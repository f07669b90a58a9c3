"""What the order-fulfillment process records in its own stream (`Fulfillment-<order id>`, in the orders
log, never published): what it asked for, what it heard, what it decided. A storage contract: change a
stored shape only by bumping the event's `schema_version` and registering an upcaster below."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore import Event, EventRegistry
from eventcore.personal_data import SealedData
from orders.events import CancellationReason


class FulfillmentLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int


class ParcelLine(BaseModel):
    """A line as the parcel carries it: what it is and how many, never its price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    name: str
    quantity: int


class ParcelDetails(BaseModel):
    """What shipping needs to plan the order's parcel: its lines, where it goes, and the address sealed
    under the customer's key (ciphertext only; shipping opens it for the carrier's label)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lines: tuple[ParcelLine, ...]
    destination_country: str
    personal: SealedData | None = None


class FulfillmentStarted(Event):
    """Reservations of every line, the payment's authorisation and the parcel's planning were asked for; the
    answers are awaited until `deadline_at`. v2 added `parcel`: a v1 process (from before the process
    drove shipping, when shipping planned parcels from the order's events) reads with `parcel` None."""

    schema_version: ClassVar[int] = 2

    order_id: str
    customer_id: str
    lines: tuple[FulfillmentLine, ...]
    amount: int
    currency: str
    parcel: ParcelDetails | None
    deadline_at: AwareDatetime
    started_at: AwareDatetime


class StockAnswered(Event):
    """Inventory answered for one line: held (`reserved`) or not enough available."""

    order_id: str
    sku: str
    reserved: bool
    answered_at: AwareDatetime


class PaymentAnswered(Event):
    order_id: str
    payment_id: str
    authorized: bool
    reason: str | None
    answered_at: AwareDatetime


class FulfillmentCompleted(Event):
    """Every line is held and the payment authorised: the order is to be confirmed, its parcel picked."""

    order_id: str
    payment_id: str
    completed_at: AwareDatetime


class FulfillmentCancelled(Event):
    """The order cannot be fulfilled (or the customer cancelled it): what was held is to be released, the
    payment voided and the parcel cancelled; `cancel_order` when the order itself is still to be cancelled."""

    order_id: str
    reason: CancellationReason
    cancel_order: bool
    cancelled_at: AwareDatetime


class LateAnswerCompensated(Event):
    """An answer arrived after the process was cancelled: a reservation is released, an authorisation
    voided. `sku` names the line for a stock answer, None for the payment."""

    order_id: str
    kind: Literal["stock", "payment"]
    sku: str | None
    compensated_at: AwareDatetime


class DispatchRecorded(Event):
    """The order's parcel left: what it held is to be committed, and the order marked shipped."""

    order_id: str
    carrier: str
    tracking_number: str
    dispatched_at: AwareDatetime


class DeliveryRecorded(Event):
    order_id: str
    delivered_at: AwareDatetime


class CancellationRacedDispatch(Event):
    """The order was cancelled and its parcel dispatched, each before the other was known (in either order):
    nothing is released or voided automatically, a person arranges the return (docs/operations.md, "A
    cancellation that raced the dispatch")."""

    order_id: str
    noticed_at: AwareDatetime


fulfillment_events = EventRegistry(
    [
        FulfillmentStarted,
        StockAnswered,
        PaymentAnswered,
        FulfillmentCompleted,
        FulfillmentCancelled,
        LateAnswerCompensated,
        DispatchRecorded,
        DeliveryRecorded,
        CancellationRacedDispatch,
    ]
)


@fulfillment_events.upcaster("FulfillmentStarted", 1)
def _parcel_planned_by_shipping(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "parcel": None}
