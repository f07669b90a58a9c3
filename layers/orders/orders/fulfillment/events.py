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
    drove shipping, when shipping planned parcels from the order's events) reads with `parcel` None. v3
    added `payment_method`, the provider's token the order names (None: the customer's card on file)."""

    schema_version: ClassVar[int] = 3

    order_id: str
    customer_id: str
    lines: tuple[FulfillmentLine, ...]
    amount: int
    currency: str
    parcel: ParcelDetails | None
    payment_method: str | None = None
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
    """The order's parcel left: what it held is to be committed, the order marked shipped, and `capture`
    (what shipped: the whole order) taken from the payment's authorisation. v2 added `capture`: a v1 event,
    from before payments captured, reads with None (nothing to capture)."""

    schema_version: ClassVar[int] = 2

    order_id: str
    carrier: str
    tracking_number: str
    capture: int | None = None
    dispatched_at: AwareDatetime


class AuthorisationWatched(Event):
    """The payment is authorised and the order confirmed: providers hold an authorisation for days, not
    forever, so the process looks again at `check_at`, before it `expires_at`."""

    order_id: str
    expires_at: AwareDatetime
    check_at: AwareDatetime


class AuthorisationExpiring(Event):
    """The authorisation is about to expire and the parcel has not left: the order is flagged for a person
    (the AuthorisationExpiring alarm) to re-authorise with the customer or hold the parcel; a capture after
    the expiry is refused by the provider (PaymentCaptureFailed, its own alarm)."""

    order_id: str
    expires_at: AwareDatetime
    noticed_at: AwareDatetime


class CaptureRecorded(Event):
    """Payments captured what shipped: the order is told."""

    order_id: str
    amount: int
    captured_at: AwareDatetime


class ReturnOpened(Event):
    """The customer asked for a return: its parcel is awaited until `deadline_at`."""

    order_id: str
    return_id: str
    deadline_at: AwareDatetime
    opened_at: AwareDatetime


class ReturnSettling(Event):
    """The return's parcel arrived: `restock` (its lines fit to sell) goes back into stock, and `refund`
    (decided by the order, docs/payments.md) is to be refunded."""

    order_id: str
    return_id: str
    restock: tuple[FulfillmentLine, ...]
    refund: int
    received_at: AwareDatetime


class ReturnRefundRecorded(Event):
    """Payments refunded the return: the order is told, and the return is over."""

    order_id: str
    return_id: str
    amount: int
    refunded_at: AwareDatetime


class ReturnDeadlinePassed(Event):
    """The return's parcel never arrived by its deadline: the order is to expire the return."""

    order_id: str
    return_id: str
    passed_at: AwareDatetime


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
        AuthorisationWatched,
        AuthorisationExpiring,
        CaptureRecorded,
        ReturnOpened,
        ReturnSettling,
        ReturnRefundRecorded,
        ReturnDeadlinePassed,
    ]
)


@fulfillment_events.upcaster("FulfillmentStarted", 2)
def _paid_with_the_card_on_file(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "payment_method": None}


@fulfillment_events.upcaster("DispatchRecorded", 1)
def _dispatched_before_capture(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "capture": None}


@fulfillment_events.upcaster("FulfillmentStarted", 1)
def _parcel_planned_by_shipping(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "parcel": None}
