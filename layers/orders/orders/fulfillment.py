"""The order-fulfilment process manager as a decider, one per order: it asks inventory to reserve each line
and payments to authorise the total, waits for both answers until a deadline, then confirms the order or
cancels it and compensates whatever succeeded. Its commands are the facts it reacts to (the order's own
events, and payments' and inventory's as orders reads them) and the deadline; its events record what it
asked, heard and decided. Pure: the time arrives with what it reacts to.

The commands it sends to other contexts are derived from its events by the fulfillment service; this module
only decides."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore import Decider, Event, EventNotApplicableError, EventRegistry
from eventcore.messaging.inbound import InboundEvents
from orders.events import CancellationReason, OrderCancelled, OrderCreated

# -- what it reacts to ---------------------------------------------------------------------------------------


class _Inbound(BaseModel):
    # Fields orders does not use are ignored, so another context may add fields without a new schema version.
    model_config = ConfigDict(frozen=True, extra="ignore")


class PaymentAuthorized(_Inbound):
    """payments' PaymentAuthorized, schema version 1, with the fields orders reads."""

    payment_id: str
    order_id: str
    authorized_at: AwareDatetime


class PaymentDeclined(_Inbound):
    """payments' PaymentDeclined, schema version 1, with the fields orders reads."""

    payment_id: str
    order_id: str
    reason: str
    declined_at: AwareDatetime


class StockReserved(_Inbound):
    """inventory's StockReserved, schema version 1, with the fields orders reads."""

    sku: str
    order_id: str
    reserved_at: AwareDatetime


class StockReservationRefused(_Inbound):
    """inventory's StockReservationRefused, schema version 1, with the fields orders reads."""

    sku: str
    order_id: str
    available: int
    refused_at: AwareDatetime


class ShipmentDispatched(_Inbound):
    """shipping's ShipmentDispatched, schema version 1, with the fields orders reads."""

    order_id: str
    carrier: str
    tracking_number: str
    dispatched_at: AwareDatetime


class ShipmentDelivered(_Inbound):
    """shipping's ShipmentDelivered, schema version 1, with the fields orders reads."""

    order_id: str
    delivered_at: AwareDatetime


class ShipmentUndeliverable(_Inbound):
    """shipping's ShipmentUndeliverable, schema version 1: the parcel cannot go (its address was erased)."""

    order_id: str
    reason: str
    noticed_at: AwareDatetime


class DeadlinePassed(BaseModel):
    """The order's deadline message came back: `at` is when it was read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    at: AwareDatetime


PaymentOutcome = PaymentAuthorized | PaymentDeclined
StockOutcome = StockReserved | StockReservationRefused
ShipmentProgress = ShipmentDispatched | ShipmentDelivered | ShipmentUndeliverable

# Every payment and inventory event type is named here: the answers the process acts on (with the schema
# versions it reads), and the types it deliberately ignores. Any other type, or another schema version, is
# parked, never guessed at.
PAYMENT_EVENTS: InboundEvents[PaymentOutcome] = InboundEvents(
    "payment",
    handled={
        "PaymentAuthorized": (frozenset({1}), PaymentAuthorized),
        "PaymentDeclined": (frozenset({1}), PaymentDeclined),
    },
    ignored=frozenset({"PaymentRequested", "PaymentVoided"}),
)
STOCK_EVENTS: InboundEvents[StockOutcome] = InboundEvents(
    "inventory",
    handled={
        "StockReserved": (frozenset({1}), StockReserved),
        "StockReservationRefused": (frozenset({1}), StockReservationRefused),
    },
    ignored=frozenset({"StockOpened", "StockReceived", "StockReleased", "StockCommitted"}),
)
SHIPMENT_EVENTS: InboundEvents[ShipmentProgress] = InboundEvents(
    "shipment",
    handled={
        "ShipmentDispatched": (frozenset({1}), ShipmentDispatched),
        "ShipmentDelivered": (frozenset({1}), ShipmentDelivered),
        "ShipmentUndeliverable": (frozenset({1}), ShipmentUndeliverable),
    },
    # Planned and ready follow the order's own events; a cancelled shipment follows the order's cancellation.
    ignored=frozenset({"ShipmentPlanned", "ShipmentReady", "ShipmentCancelled"}),
)
# The order's own events the process reacts to; the others (confirmation, shipping) it caused or ignores.
ORDER_EVENTS_HANDLED = frozenset({"OrderCreated", "OrderCancelled"})

FulfillmentInput = (
    OrderCreated | OrderCancelled | PaymentOutcome | StockOutcome | ShipmentProgress | DeadlinePassed
)


# -- its events ----------------------------------------------------------------------------------------------


class FulfillmentLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int


class FulfillmentStarted(Event):
    """Reservations of every line and the payment's authorisation were asked for; the answers are awaited
    until `deadline_at`."""

    order_id: str
    customer_id: str
    lines: tuple[FulfillmentLine, ...]
    amount: int
    currency: str
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
    """Every line is held and the payment authorised: the order is to be confirmed."""

    order_id: str
    payment_id: str
    completed_at: AwareDatetime


class FulfillmentCancelled(Event):
    """The order cannot be fulfilled (or the customer cancelled it): what was held is to be released and the
    payment voided; `cancel_order` when the order itself is still to be cancelled."""

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


# -- state ---------------------------------------------------------------------------------------------------


class Answer(StrEnum):
    AWAITED = "awaited"
    YES = "yes"  # reserved, or authorised
    NO = "no"  # refused, or declined


class Outcome(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Delivery(StrEnum):
    AWAITED = "awaited"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"


class Fulfillment(BaseModel):
    """What the process has asked for and heard for one order (before it starts, None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    lines: tuple[FulfillmentLine, ...]
    deadline_at: AwareDatetime
    stock: dict[str, Answer]
    payment: Answer = Answer.AWAITED
    payment_id: str | None = None
    outcome: Outcome = Outcome.IN_PROGRESS
    reason: str | None = None
    delivery: Delivery = Delivery.AWAITED

    @property
    def waiting_for_stock(self) -> bool:
        return Answer.AWAITED in self.stock.values()

    @property
    def ready(self) -> bool:
        return all(answer is Answer.YES for answer in self.stock.values()) and self.payment is Answer.YES


def evolve(state: Fulfillment | None, event: Event) -> Fulfillment | None:
    match state, event:
        case None, FulfillmentStarted() as started:
            return Fulfillment(
                order_id=started.order_id,
                lines=started.lines,
                deadline_at=started.deadline_at,
                stock={line.sku: Answer.AWAITED for line in started.lines},
            )
        case Fulfillment() as process, StockAnswered() as answered:
            stock = {**process.stock, answered.sku: Answer.YES if answered.reserved else Answer.NO}
            return process.model_copy(update={"stock": stock})
        case Fulfillment() as process, PaymentAnswered() as answered:
            answer = Answer.YES if answered.authorized else Answer.NO
            return process.model_copy(update={"payment": answer, "payment_id": answered.payment_id})
        case Fulfillment() as process, FulfillmentCompleted():
            return process.model_copy(update={"outcome": Outcome.COMPLETED})
        case Fulfillment() as process, FulfillmentCancelled() as cancelled:
            return process.model_copy(update={"outcome": Outcome.CANCELLED, "reason": cancelled.reason})
        case Fulfillment() as process, LateAnswerCompensated():
            return process  # a compensation sent; nothing the process waits for changes
        case Fulfillment() as process, DispatchRecorded() | CancellationRacedDispatch():
            return process.model_copy(update={"delivery": Delivery.DISPATCHED})
        case Fulfillment() as process, DeliveryRecorded():
            return process.model_copy(update={"delivery": Delivery.DELIVERED})
    # Only a damaged or misrouted stream gets here (a second start, an answer before the start).
    raise EventNotApplicableError(event, state)


# -- decisions -----------------------------------------------------------------------------------------------


class FulfillmentNotStartedError(Exception):
    """An answer for an order whose process has not started: its OrderCreated has not been read yet, so the
    answer is retried (and parked if the order never comes)."""

    def __init__(self, order_id: str) -> None:
        super().__init__(
            f"the fulfilment of order {order_id} has not started; its OrderCreated is still to come"
        )
        self.order_id = order_id


def decider(deadline: timedelta) -> Decider[FulfillmentInput, Fulfillment | None]:
    """The process manager's decider, with answers awaited for `deadline` after an order is placed."""

    def decide(command: FulfillmentInput, state: Fulfillment | None) -> list[Event]:
        match command, state:
            case OrderCreated() as created, None:
                return [
                    FulfillmentStarted(
                        order_id=created.order_id,
                        customer_id=created.customer_id,
                        lines=tuple(
                            FulfillmentLine(sku=line.sku, quantity=line.quantity) for line in created.lines
                        ),
                        amount=created.total,
                        currency=created.currency,
                        deadline_at=created.placed_at + deadline,
                        started_at=created.placed_at,
                    )
                ]
            case OrderCreated(), Fulfillment():
                return []  # a redelivered order: the process is under way
            case _, None:
                raise FulfillmentNotStartedError(command.order_id)
            case _, Fulfillment() as process:
                return _decide(command, process)
        raise TypeError(f"not a fulfilment input: {command!r}")

    return Decider(
        aggregate="Fulfillment",
        initial_state=None,
        decide=decide,
        evolve=evolve,
        registry=fulfillment_events,
        state_type=Fulfillment | None,
    )


def _decide(command: FulfillmentInput, process: Fulfillment) -> list[Event]:
    order_id = process.order_id
    in_progress = process.outcome is Outcome.IN_PROGRESS
    match command:
        case StockReserved() as reserved if in_progress and process.stock.get(reserved.sku) is Answer.AWAITED:
            answered = StockAnswered(
                order_id=order_id, sku=reserved.sku, reserved=True, answered_at=reserved.reserved_at
            )
            return [answered, *_complete_if_ready(evolve(process, answered), reserved.reserved_at)]
        case StockReservationRefused() as refused if (
            in_progress and process.stock.get(refused.sku) is Answer.AWAITED
        ):
            return [
                StockAnswered(
                    order_id=order_id, sku=refused.sku, reserved=False, answered_at=refused.refused_at
                ),
                _cancel(order_id, "out_of_stock", refused.refused_at),
            ]
        case StockReserved() as reserved if (
            process.outcome is Outcome.CANCELLED and reserved.sku in process.stock
        ):
            # Held after the process gave up (a late or a repeated reservation): give it back. A redelivery of
            # the same answer is recognised by the runner (its command id is the answer's event id).
            return [
                LateAnswerCompensated(
                    order_id=order_id, kind="stock", sku=reserved.sku, compensated_at=reserved.reserved_at
                )
            ]
        case PaymentAuthorized() as authorized if in_progress and process.payment is Answer.AWAITED:
            payment_answer = PaymentAnswered(
                order_id=order_id,
                payment_id=authorized.payment_id,
                authorized=True,
                reason=None,
                answered_at=authorized.authorized_at,
            )
            return [
                payment_answer,
                *_complete_if_ready(evolve(process, payment_answer), authorized.authorized_at),
            ]
        case PaymentDeclined() as declined if in_progress and process.payment is Answer.AWAITED:
            return [
                PaymentAnswered(
                    order_id=order_id,
                    payment_id=declined.payment_id,
                    authorized=False,
                    reason=declined.reason,
                    answered_at=declined.declined_at,
                ),
                _cancel(order_id, "payment_declined", declined.declined_at),
            ]
        case PaymentAuthorized() as authorized if process.outcome is Outcome.CANCELLED:
            return [
                LateAnswerCompensated(
                    order_id=order_id, kind="payment", sku=None, compensated_at=authorized.authorized_at
                )
            ]
        case OrderCancelled() as cancelled if process.delivery is not Delivery.AWAITED:
            # Cancelled after the parcel left, before the order knew: the goods are gone, nothing to undo.
            return [CancellationRacedDispatch(order_id=order_id, noticed_at=cancelled.cancelled_at)]
        case OrderCancelled() as cancelled if process.outcome is not Outcome.CANCELLED:
            # The customer cancelled (the order is cancelled already): only the compensations are left.
            return [
                FulfillmentCancelled(
                    order_id=order_id,
                    reason=cancelled.reason,
                    cancel_order=False,
                    cancelled_at=cancelled.cancelled_at,
                )
            ]
        case ShipmentDispatched() as dispatched if process.delivery is Delivery.AWAITED:
            if process.outcome is Outcome.COMPLETED:
                return [
                    DispatchRecorded(
                        order_id=order_id,
                        carrier=dispatched.carrier,
                        tracking_number=dispatched.tracking_number,
                        dispatched_at=dispatched.dispatched_at,
                    )
                ]
            return [CancellationRacedDispatch(order_id=order_id, noticed_at=dispatched.dispatched_at)]
        case ShipmentDelivered() as delivered if (
            process.delivery is Delivery.DISPATCHED and process.outcome is Outcome.COMPLETED
        ):
            return [DeliveryRecorded(order_id=order_id, delivered_at=delivered.delivered_at)]
        case ShipmentUndeliverable() as held if (
            process.outcome is not Outcome.CANCELLED and process.delivery is Delivery.AWAITED
        ):
            # Its address was erased before the parcel left: it cannot be fulfilled, so everything is undone.
            return [_cancel(order_id, "address_erased", held.noticed_at)]
        case DeadlinePassed() as passed if in_progress and passed.at >= process.deadline_at:
            reason: CancellationReason = "stock_timeout" if process.waiting_for_stock else "payment_timeout"
            return [_cancel(order_id, reason, passed.at)]
    # A repeated or late answer with nothing left to do, a deadline after the outcome, a cancellation the
    # process caused itself.
    return []


def _complete_if_ready(process: Fulfillment | None, at: AwareDatetime) -> list[Event]:
    if process is None or not process.ready or process.payment_id is None:
        return []
    return [FulfillmentCompleted(order_id=process.order_id, payment_id=process.payment_id, completed_at=at)]


def _cancel(order_id: str, reason: CancellationReason, at: AwareDatetime) -> FulfillmentCancelled:
    return FulfillmentCancelled(order_id=order_id, reason=reason, cancel_order=True, cancelled_at=at)
