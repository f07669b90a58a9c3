"""The order-fulfillment process manager as a decider, one process per order: it asks inventory to reserve
each line, payments to authorise the total and shipping to plan the parcel, waits for the answers until a
deadline, then confirms the order (and readies its parcel) or cancels it and compensates whatever
succeeded; once the parcel leaves and arrives, it tells the order. Its commands are the facts it hears
(`inbound`) and the deadline; its events (`events`) record what it asked, heard and decided; what it sends
follows from those events (`outbound`). Pure: the time arrives with what it reacts to.

The whole lifecycle, as a state table: docs/order-lifecycle.md."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore import Decider, Event, EventNotApplicableError
from orders.events import CancellationReason, OrderCancelled, OrderCreated, ReturnReceived, ReturnRequested
from orders.fulfillment.events import (
    AuthorisationExpiring,
    AuthorisationWatched,
    CancellationRacedDispatch,
    CaptureRecorded,
    DeliveryRecorded,
    DispatchRecorded,
    FulfillmentCancelled,
    FulfillmentCompleted,
    FulfillmentLine,
    FulfillmentStarted,
    LateAnswerCompensated,
    ParcelDetails,
    ParcelLine,
    PaymentAnswered,
    ReturnDeadlinePassed,
    ReturnOpened,
    ReturnRefundRecorded,
    ReturnSettling,
    StockAnswered,
    fulfillment_events,
)
from orders.fulfillment.inbound import (
    DeadlinePassed,
    FulfillmentInput,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentUndeliverable,
    StockReservationRefused,
    StockReserved,
)

# -- state ---------------------------------------------------------------------------------------------------

AGGREGATE = "Fulfillment"  # its streams: Fulfillment-<order id>, in the orders log


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


class ReturnStage(StrEnum):
    AWAITED = "awaited"  # the parcel, until the return's deadline
    SETTLING = "settling"  # received: restock and refund sent, the refund awaited
    REFUNDED = "refunded"
    EXPIRING = "expiring"  # the deadline passed unreceived: the order asked to expire it


class ReturnProgress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: ReturnStage
    deadline_at: AwareDatetime


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
    amount: int = 0  # what the payment authorises, and what is captured when the parcel leaves
    captured: bool = False
    authorisation_check_at: AwareDatetime | None = None
    authorisation_expires_at: AwareDatetime | None = None
    authorisation_expiring: bool = False
    returns: dict[str, ReturnProgress] = {}

    def _returning(self, return_id: str, stage: ReturnStage) -> Fulfillment:
        progress = self.returns[return_id].model_copy(update={"stage": stage})
        return self.model_copy(update={"returns": {**self.returns, return_id: progress}})

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
                amount=started.amount,
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
        case Fulfillment() as process, AuthorisationWatched() as watched:
            return process.model_copy(
                update={
                    "authorisation_check_at": watched.check_at,
                    "authorisation_expires_at": watched.expires_at,
                }
            )
        case Fulfillment() as process, AuthorisationExpiring():
            return process.model_copy(update={"authorisation_expiring": True})
        case Fulfillment() as process, CaptureRecorded():
            return process.model_copy(update={"captured": True})
        case Fulfillment() as process, ReturnOpened() as opened:
            progress = ReturnProgress(stage=ReturnStage.AWAITED, deadline_at=opened.deadline_at)
            return process.model_copy(update={"returns": {**process.returns, opened.return_id: progress}})
        case Fulfillment() as process, ReturnSettling() as settling:
            if settling.return_id not in process.returns:  # received before its request was heard
                progress = ReturnProgress(stage=ReturnStage.SETTLING, deadline_at=settling.received_at)
                return process.model_copy(
                    update={"returns": {**process.returns, settling.return_id: progress}}
                )
            return process._returning(settling.return_id, ReturnStage.SETTLING)
        case Fulfillment() as process, ReturnRefundRecorded() as refunded:
            return process._returning(refunded.return_id, ReturnStage.REFUNDED)
        case Fulfillment() as process, ReturnDeadlinePassed() as passed:
            return process._returning(passed.return_id, ReturnStage.EXPIRING)
    # Only a damaged or misrouted stream gets here (a second start, an answer before the start).
    raise EventNotApplicableError(event, state)


# -- decisions -----------------------------------------------------------------------------------------------


class FulfillmentNotStartedError(Exception):
    """An answer for an order whose process has not started: its OrderCreated has not been read yet, so the
    answer is retried (and parked if the order never comes)."""

    def __init__(self, order_id: str) -> None:
        super().__init__(
            f"the fulfillment of order {order_id} has not started; its OrderCreated is still to come"
        )
        self.order_id = order_id


# How long a card authorisation is held by default (online card payments, docs/payments.md), and how much
# of it passes before the process looks whether the parcel has left.
AUTHORISATION_HOLD = timedelta(days=7)
LOOK_AT = 0.9


def decider(
    deadline: timedelta, hold: timedelta = AUTHORISATION_HOLD
) -> Decider[FulfillmentInput, Fulfillment | None]:
    """The process manager's decider, with answers awaited for `deadline` after an order is placed, and an
    authorisation held for `hold` by the provider (0: not watched)."""

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
                        parcel=ParcelDetails(
                            lines=tuple(
                                ParcelLine(sku=line.sku, name=line.name, quantity=line.quantity)
                                for line in created.lines
                            ),
                            destination_country=created.destination_country,
                            personal=created.personal,
                        ),
                        payment_method=created.payment_method,
                        deadline_at=created.placed_at + deadline,
                        started_at=created.placed_at,
                    )
                ]
            case OrderCreated(), Fulfillment():
                return []  # a redelivered order: the process is under way
            case _, None:
                raise FulfillmentNotStartedError(command.order_id)
            case DeadlinePassed(watch="authorisation") as passed, Fulfillment() as process:
                return _authorisation_checked(process, passed)
            case _, Fulfillment() as process:
                decided = _decide(command, process)
                return [*decided, *_watch_authorisation(decided, hold)]
        raise TypeError(f"not a fulfillment input: {command!r}")

    return Decider(
        aggregate=AGGREGATE,
        initial_state=None,
        decide=decide,
        evolve=evolve,
        registry=fulfillment_events,
        state_type=Fulfillment | None,
        state_schema=2,  # 2: the authorisation's expiry kept as recorded
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
        case StockReserved() as reserved if reserved.sku in process.stock and (
            process.outcome is Outcome.CANCELLED or process.delivery is not Delivery.AWAITED
        ):
            # Held after the process gave up, or after the goods left with the parcel (a late reservation, or
            # a repeated one: a reservation redelivered beyond its stock bucket's window is decided again,
            # docs/capacity.md): give it back. A redelivery of the same answer is recognised by the runner
            # (its command id is the answer's event id).
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
                        capture=process.amount,  # the parcel holds the whole order: all of it is taken
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
        case DeadlinePassed(return_id=str()) as passed:
            return _return_deadline(process, passed)
        case PaymentCaptured() as captured if not process.captured:
            return [
                CaptureRecorded(order_id=order_id, amount=captured.amount, captured_at=captured.captured_at)
            ]
        case ReturnRequested() as requested if requested.return_id not in process.returns:
            return [
                ReturnOpened(
                    order_id=order_id,
                    return_id=requested.return_id,
                    deadline_at=requested.deadline_at,
                    opened_at=requested.requested_at,
                )
            ]
        case ReturnReceived() as received if process.returns.get(
            received.return_id
        ) is None or process.returns[received.return_id].stage in (ReturnStage.AWAITED, ReturnStage.EXPIRING):
            # Received, even after the deadline passed: the order took the receipt, so it did not expire.
            restock: dict[str, int] = {}
            for line in received.lines:
                if line.condition == "sellable":
                    restock[line.sku] = restock.get(line.sku, 0) + line.quantity
            return [
                ReturnSettling(
                    order_id=order_id,
                    return_id=received.return_id,
                    restock=tuple(FulfillmentLine(sku=sku, quantity=units) for sku, units in restock.items()),
                    refund=received.refund,
                    received_at=received.received_at,
                )
            ]
        case PaymentRefunded() as refunded if _settling(process, refunded.refund_id):
            return [
                ReturnRefundRecorded(
                    order_id=order_id,
                    return_id=refunded.refund_id,
                    amount=refunded.amount,
                    refunded_at=refunded.refunded_at,
                )
            ]
        case DeadlinePassed() as passed if in_progress and passed.at >= process.deadline_at:
            reason: CancellationReason = "stock_timeout" if process.waiting_for_stock else "payment_timeout"
            return [_cancel(order_id, reason, passed.at)]
    # A repeated or late answer with nothing left to do, a deadline after the outcome, a cancellation the
    # process caused itself.
    return []


def _watch_authorisation(decided: list[Event], hold: timedelta) -> list[Event]:
    completed = next((e for e in decided if isinstance(e, FulfillmentCompleted)), None)
    if completed is None or not hold:
        return []  # nothing completed, or no watch (a hold of 0: docs/capacity.md, "Long deadlines")
    return [
        AuthorisationWatched(
            order_id=completed.order_id,
            expires_at=completed.completed_at + hold,
            check_at=completed.completed_at + hold * LOOK_AT,
        )
    ]


def _authorisation_checked(process: Fulfillment, passed: DeadlinePassed) -> list[Event]:
    """The authorisation about to expire with the parcel still in the warehouse: flagged, once."""
    check_at = process.authorisation_check_at
    if (
        check_at is None
        or passed.at < check_at
        or process.authorisation_expiring
        or process.outcome is not Outcome.COMPLETED
        or process.delivery is not Delivery.AWAITED
    ):
        return []
    expires_at = (
        process.authorisation_expires_at
    )  # as recorded when the watch began, whatever the hold is now
    assert expires_at is not None  # recorded with the check's time
    return [AuthorisationExpiring(order_id=process.order_id, expires_at=expires_at, noticed_at=passed.at)]


def still_awaits(process: Fulfillment | None, *, return_id: str | None, watch: str | None) -> bool:
    """Whether a deadline of a return (`return_id`) or the authorisation's look (`watch`) still matters: the
    return's parcel is awaited, or the parcel of a confirmed order has not left and nothing was flagged."""
    if process is None:
        return True
    if watch == "authorisation":
        return (
            process.outcome is Outcome.COMPLETED
            and process.delivery is Delivery.AWAITED
            and not process.authorisation_expiring
        )
    if return_id is not None:
        progress = process.returns.get(return_id)
        return progress is None or progress.stage is ReturnStage.AWAITED
    return True


def _settling(process: Fulfillment, return_id: str) -> bool:
    progress = process.returns.get(return_id)
    return progress is not None and progress.stage is ReturnStage.SETTLING


def _return_deadline(process: Fulfillment, passed: DeadlinePassed) -> list[Event]:
    """A return's deadline: a parcel still awaited expires (the order decides, should the parcel have been
    received meanwhile); anything further along needs nothing."""
    progress = process.returns.get(passed.return_id or "")
    if progress is None or progress.stage is not ReturnStage.AWAITED or passed.at < progress.deadline_at:
        return []
    return [
        ReturnDeadlinePassed(order_id=process.order_id, return_id=passed.return_id or "", passed_at=passed.at)
    ]


def _complete_if_ready(process: Fulfillment | None, at: AwareDatetime) -> list[Event]:
    if process is None or not process.ready or process.payment_id is None:
        return []
    return [FulfillmentCompleted(order_id=process.order_id, payment_id=process.payment_id, completed_at=at)]


def _cancel(order_id: str, reason: CancellationReason, at: AwareDatetime) -> FulfillmentCancelled:
    return FulfillmentCancelled(order_id=order_id, reason=reason, cancel_order=True, cancelled_at=at)
