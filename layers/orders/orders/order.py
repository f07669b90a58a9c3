"""The Order aggregate as a decider: its state and `evolve` (how facts change it), then `decide` (which
facts a command produces, or which rule it breaks). Pure: time and ids arrive with the command."""

from datetime import timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore import Decider, Event, EventNotApplicableError
from eventcore.personal_data import SealedData
from orders.commands import (
    CancelOrder,
    ConfirmOrder,
    DeliverOrder,
    ExpireReturn,
    FlagAuthorisationExpiring,
    OrderCommand,
    PlaceOrder,
    ReceiveReturn,
    RecordCapture,
    RecordReturnRefund,
    RequestReturn,
    ShipOrder,
)
from orders.errors import (
    OrderAlreadyCancelledError,
    OrderAlreadyExistsError,
    OrderAlreadyShippedError,
    OrderNotConfirmedError,
    OrderNotFoundError,
    OrderNotShippedError,
    PaymentMismatchError,
    ReturnAlreadySettledError,
    ReturnNotAllowedError,
    ReturnNotFoundError,
)
from orders.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderPaymentCaptured,
    OrderPaymentExpiring,
    OrderShipped,
    ReceivedLine,
    ReturnExpired,
    ReturnLine,
    ReturnReceived,
    ReturnRefunded,
    ReturnRequested,
    order_events,
)
from orders.pricing import OrderLine
from orders.refunds import refund_of_return

# -- state ---------------------------------------------------------------------------------------------------


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"  # the parcel awaited until the deadline
    RECEIVED = "received"  # the warehouse has it; the refund is on its way
    REFUNDED = "refunded"
    EXPIRED = "expired"  # never arrived by the deadline


class OrderReturn(BaseModel):
    """One return of the order: what was asked back, what arrived, what it refunds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    return_id: str
    status: ReturnStatus
    lines: tuple[ReturnLine, ...]
    requested_at: AwareDatetime
    deadline_at: AwareDatetime
    received: tuple[ReceivedLine, ...] = ()
    refund: int = 0  # what it refunds (decided on receipt), refunded once `status` is refunded
    updated_at: AwareDatetime


class Order(BaseModel):
    """An order that has been placed. Before that its state is None."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    customer_id: str
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    currency: str
    subtotal: int
    discount: int
    campaign_code: str | None
    shipping: int
    total: int
    destination_country: str
    personal: SealedData | None = None
    placed_at: AwareDatetime
    updated_at: AwareDatetime
    payment_id: str | None = None
    cancellation_reason: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    payment_method: str | None = None
    delivered_at: AwareDatetime | None = None
    # The payment, in minor units: held on the card, taken when the parcel left, given back for returns.
    authorised: int = 0
    captured: int = 0
    refunded: int = 0
    authorisation_expires_at: AwareDatetime | None = None  # set when it is about to expire, parcel unsent
    returns: tuple[OrderReturn, ...] = ()

    def find_return(self, return_id: str) -> OrderReturn | None:
        return next((r for r in self.returns if r.return_id == return_id), None)

    def received_back(self) -> dict[str, int]:
        """Units received back so far, by SKU, over every return."""
        units: dict[str, int] = {}
        for returned in self.returns:
            for line in returned.received:
                units[line.sku] = units.get(line.sku, 0) + line.quantity
        return units

    def asked_back(self) -> dict[str, int]:
        """Units asked back in returns that have not expired (received or awaited), by SKU."""
        units: dict[str, int] = {}
        for returned in self.returns:
            if returned.status is ReturnStatus.REQUESTED:
                for line in returned.lines:
                    units[line.sku] = units.get(line.sku, 0) + line.quantity
            else:
                for received in returned.received:
                    units[received.sku] = units.get(received.sku, 0) + received.quantity
        return units

    def _with_return(self, changed: OrderReturn) -> tuple[OrderReturn, ...]:
        return tuple(changed if r.return_id == changed.return_id else r for r in self.returns)


def evolve(state: Order | None, event: Event) -> Order | None:
    match state, event:
        case None, OrderCreated() as created:
            return Order(
                order_id=created.order_id,
                customer_id=created.customer_id,
                status=OrderStatus.PENDING_PAYMENT,
                lines=created.lines,
                currency=created.currency,
                subtotal=created.subtotal,
                discount=created.discount,
                campaign_code=created.campaign_code,
                shipping=created.shipping,
                total=created.total,
                destination_country=created.destination_country,
                personal=created.personal,
                payment_method=created.payment_method,
                placed_at=created.placed_at,
                updated_at=created.placed_at,
            )
        case Order() as order, OrderConfirmed() as confirmed:
            return order.model_copy(
                update={
                    "status": OrderStatus.CONFIRMED,
                    "payment_id": confirmed.payment_id,
                    "authorised": order.total,
                    "updated_at": confirmed.confirmed_at,
                }
            )
        case Order() as order, OrderCancelled() as cancelled:
            return order.model_copy(
                update={
                    "status": OrderStatus.CANCELLED,
                    "cancellation_reason": cancelled.reason,
                    "authorised": 0,  # released: the process voids the payment
                    "updated_at": cancelled.cancelled_at,
                }
            )
        case Order() as order, OrderShipped() as shipped:
            return order.model_copy(
                update={
                    "status": OrderStatus.SHIPPED,
                    "carrier": shipped.carrier,
                    "tracking_number": shipped.tracking_number,
                    "updated_at": shipped.shipped_at,
                }
            )
        case Order() as order, OrderDelivered() as delivered:
            return order.model_copy(
                update={
                    "status": OrderStatus.DELIVERED,
                    "delivered_at": delivered.delivered_at,
                    "updated_at": delivered.delivered_at,
                }
            )
        case Order() as order, OrderPaymentCaptured() as captured:
            return order.model_copy(update={"captured": captured.amount, "updated_at": captured.captured_at})
        case Order() as order, OrderPaymentExpiring() as expiring:
            return order.model_copy(
                update={"authorisation_expires_at": expiring.expires_at, "updated_at": expiring.noticed_at}
            )
        case Order() as order, ReturnRequested() as requested:
            opened = OrderReturn(
                return_id=requested.return_id,
                status=ReturnStatus.REQUESTED,
                lines=requested.lines,
                requested_at=requested.requested_at,
                deadline_at=requested.deadline_at,
                updated_at=requested.requested_at,
            )
            return order.model_copy(
                update={"returns": (*order.returns, opened), "updated_at": requested.requested_at}
            )
        case Order() as order, ReturnReceived() | ReturnExpired() | ReturnRefunded() as changed:
            return _return_changed(order, changed)
    # Only a damaged or misrouted stream gets here (a second creation, a change before creation).
    raise EventNotApplicableError(event, state)


# -- decisions -----------------------------------------------------------------------------------------------


def decide(command: OrderCommand, state: Order | None) -> list[Event]:
    match command, state:
        case PlaceOrder() as place, None:
            priced = place.priced
            return [
                OrderCreated(
                    order_id=place.order_id,
                    customer_id=place.customer_id,
                    lines=priced.lines,
                    currency=priced.currency,
                    subtotal=priced.subtotal,
                    discount=priced.discount,
                    campaign_code=priced.campaign_code,
                    shipping=priced.shipping,
                    total=priced.total,
                    destination_country=place.destination_country,
                    personal=place.personal,
                    payment_method=place.payment_method,
                    placed_at=place.at,
                )
            ]
        case PlaceOrder(), Order():
            raise OrderAlreadyExistsError(command.order_id)
        case _, None:
            raise OrderNotFoundError(command.order_id)

        # Another customer's order reads exactly like a missing one, so ids cannot be probed.
        case CancelOrder(requested_by=str() as customer), Order() as order if customer != order.customer_id:
            raise OrderNotFoundError(command.order_id)

        case ConfirmOrder() as confirm, Order(status=OrderStatus.PENDING_PAYMENT):
            confirmed = OrderConfirmed(
                order_id=confirm.order_id, payment_id=confirm.payment_id, confirmed_at=confirm.at
            )
            return [confirmed]
        case ConfirmOrder() as confirm, Order(
            status=OrderStatus.CONFIRMED | OrderStatus.SHIPPED | OrderStatus.DELIVERED
        ) as order:
            if confirm.payment_id == order.payment_id:
                return []  # already confirmed by this payment: a redelivered command
            raise PaymentMismatchError(
                order.order_id, confirmed_payment_id=order.payment_id, payment_id=confirm.payment_id
            )
        case ConfirmOrder(), Order(status=OrderStatus.CANCELLED) as order:
            raise OrderAlreadyCancelledError(order.order_id, "confirmed")

        case CancelOrder() as cancel, Order(status=OrderStatus.PENDING_PAYMENT | OrderStatus.CONFIRMED):
            return [OrderCancelled(order_id=cancel.order_id, reason=cancel.reason, cancelled_at=cancel.at)]
        case CancelOrder(), Order(status=OrderStatus.CANCELLED):
            return []  # already cancelled: the first reason stands
        case CancelOrder(), Order(status=OrderStatus.SHIPPED | OrderStatus.DELIVERED) as order:
            raise OrderAlreadyShippedError(order.order_id)

        case ShipOrder() as ship, Order(status=OrderStatus.CONFIRMED):
            return [
                OrderShipped(
                    order_id=ship.order_id,
                    carrier=ship.carrier,
                    tracking_number=ship.tracking_number,
                    shipped_at=ship.at,
                )
            ]
        case ShipOrder(), Order(status=OrderStatus.PENDING_PAYMENT) as order:
            raise OrderNotConfirmedError(order.order_id)
        case ShipOrder(), Order(status=OrderStatus.CANCELLED) as order:
            raise OrderAlreadyCancelledError(order.order_id, "shipped")
        case ShipOrder(), Order(status=OrderStatus.SHIPPED | OrderStatus.DELIVERED):
            return []

        case DeliverOrder() as deliver, Order(status=OrderStatus.SHIPPED):
            return [OrderDelivered(order_id=deliver.order_id, delivered_at=deliver.at)]
        case DeliverOrder(), Order(status=OrderStatus.DELIVERED):
            return []
        case DeliverOrder(), Order(status=OrderStatus.CANCELLED) as order:
            raise OrderAlreadyCancelledError(order.order_id, "delivered")
        case DeliverOrder(), Order() as order:
            raise OrderNotShippedError(order.order_id)

        case RecordCapture() as capture, Order() as order:
            if order.captured:
                return []  # recorded already
            return [
                OrderPaymentCaptured(order_id=order.order_id, amount=capture.amount, captured_at=capture.at)
            ]

        case FlagAuthorisationExpiring() as flag, Order(status=OrderStatus.CONFIRMED) as order:
            if order.authorisation_expires_at is not None:
                return []  # flagged already
            return [
                OrderPaymentExpiring(order_id=order.order_id, expires_at=flag.expires_at, noticed_at=flag.at)
            ]
        case FlagAuthorisationExpiring(), Order():
            return []  # shipped meanwhile (the capture tells), or cancelled: nothing to flag

        case RequestReturn() | ReceiveReturn() | ExpireReturn() | RecordReturnRefund(), Order() as order:
            return _decide_return(command, order)
        case _:
            raise TypeError(f"not an order command: {command!r}")


def _return_changed(order: Order, event: ReturnReceived | ReturnExpired | ReturnRefunded) -> Order:
    returned = order.find_return(event.return_id)
    if returned is None:
        raise EventNotApplicableError(event, order)
    refunded = order.refunded
    match event:
        case ReturnReceived() as received:
            changed = returned.model_copy(
                update={
                    "status": ReturnStatus.RECEIVED,
                    "received": received.lines,
                    "refund": received.refund,
                    "updated_at": received.received_at,
                }
            )
            at = received.received_at
        case ReturnExpired() as expired:
            changed = returned.model_copy(
                update={"status": ReturnStatus.EXPIRED, "updated_at": expired.expired_at}
            )
            at = expired.expired_at
        case ReturnRefunded() as made:
            changed = returned.model_copy(
                update={"status": ReturnStatus.REFUNDED, "updated_at": made.refunded_at}
            )
            refunded += made.amount
            at = made.refunded_at
    return order.model_copy(
        update={"returns": order._with_return(changed), "refunded": refunded, "updated_at": at}
    )


def _decide_return(
    command: RequestReturn | ReceiveReturn | ExpireReturn | RecordReturnRefund, order: Order
) -> list[Event]:
    """The rules of an order's returns: asked within the window for what was delivered and not asked back
    yet; received once (refunding by `orders.refunds`), unless expired; expired only while awaited."""
    order_id = order.order_id
    returned = order.find_return(command.return_id)
    match command:
        # Another customer's order reads exactly like a missing one, so ids cannot be probed.
        case RequestReturn(requested_by=customer) if customer != order.customer_id:
            raise OrderNotFoundError(order_id)
        case RequestReturn() as request if returned is not None:
            if request.lines != returned.lines:
                raise ReturnAlreadySettledError(
                    order_id, request.return_id, "asked already", "asked otherwise"
                )
            return []  # the same return asked again: an idempotent retry
        case RequestReturn() as request:
            _check_returnable(order, request)
            return [
                ReturnRequested(
                    order_id=order_id,
                    return_id=request.return_id,
                    lines=request.lines,
                    requested_at=request.at,
                    deadline_at=request.deadline_at,
                )
            ]
        case _ if returned is None:
            raise ReturnNotFoundError(order_id, command.return_id)

        case ReceiveReturn() as receive if returned.status is ReturnStatus.REQUESTED:
            asked = {line.sku: line.quantity for line in returned.lines}
            for index, line in enumerate(receive.lines):
                if line.quantity > asked.get(line.sku, 0):
                    raise ReturnNotAllowedError(
                        order_id,
                        f"return {returned.return_id} asked back {asked.get(line.sku, 0)} of {line.sku}, "
                        f"not {line.quantity}",
                        field=f"lines[{index}].quantity",
                    )
                asked[line.sku] = asked.get(line.sku, 0) - line.quantity
            units: dict[str, int] = {}
            for line in receive.lines:
                units[line.sku] = units.get(line.sku, 0) + line.quantity
            refund = refund_of_return(
                order.lines, order.discount, order.shipping, order.received_back(), units
            )
            return [
                ReturnReceived(
                    order_id=order_id,
                    return_id=returned.return_id,
                    lines=receive.lines,
                    refund=refund,
                    received_at=receive.at,
                )
            ]
        case ReceiveReturn() as receive if returned.status in (ReturnStatus.RECEIVED, ReturnStatus.REFUNDED):
            if receive.lines == returned.received:
                return []  # recorded already: a retry
            raise ReturnAlreadySettledError(order_id, returned.return_id, "received", "received otherwise")
        case ReceiveReturn():
            raise ReturnAlreadySettledError(order_id, returned.return_id, "expired", "received")

        case ExpireReturn() as expire if returned.status is ReturnStatus.REQUESTED:
            return [ReturnExpired(order_id=order_id, return_id=returned.return_id, expired_at=expire.at)]
        case ExpireReturn():
            return []  # it arrived in time, or expired already

        case RecordReturnRefund() as made if returned.status is ReturnStatus.RECEIVED:
            return [
                ReturnRefunded(
                    order_id=order_id,
                    return_id=returned.return_id,
                    amount=made.amount,
                    currency=order.currency,
                    campaign_code=order.campaign_code,
                    refunded_at=made.at,
                )
            ]
        case RecordReturnRefund() if returned.status is ReturnStatus.REFUNDED:
            return []
    raise ReturnAlreadySettledError(order_id, returned.return_id, returned.status.value, "refunded")


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    if not rest:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _check_returnable(order: Order, request: RequestReturn) -> None:
    if order.status is not OrderStatus.DELIVERED or order.delivered_at is None:
        raise ReturnNotAllowedError(
            order.order_id,
            f"order {order.order_id} is {order.status.value}: only a delivered order is returned",
        )
    closes = order.delivered_at + timedelta(seconds=request.window_seconds)
    if request.at > closes:
        raise ReturnNotAllowedError(
            order.order_id,
            f"the return window of order {order.order_id} closed at {closes.isoformat()}, "
            f"{_duration(request.window_seconds)} after its delivery",
        )
    delivered = {line.sku: line.quantity for line in order.lines}
    asked = order.asked_back()
    for index, line in enumerate(request.lines):
        if line.sku not in delivered:
            raise ReturnNotAllowedError(
                order.order_id, f"order {order.order_id} has no line {line.sku}", field=f"lines[{index}].sku"
            )
        left = delivered[line.sku] - asked.get(line.sku, 0)
        if line.quantity > left:
            raise ReturnNotAllowedError(
                order.order_id,
                f"{left} of {line.sku} left to return from order {order.order_id}, not {line.quantity}",
                field=f"lines[{index}].quantity",
            )
        asked[line.sku] = asked.get(line.sku, 0) + line.quantity


order_decider: Decider[OrderCommand, Order | None] = Decider(
    aggregate="Order",
    initial_state=None,
    decide=decide,
    evolve=evolve,
    registry=order_events,
    state_type=Order | None,
    snapshot_every=50,
)
