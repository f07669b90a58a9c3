"""The Order aggregate as a decider: its state and `evolve` (how facts change it), then `decide` (which
facts a command produces, or which rule it breaks). Pure: time and ids arrive with the command."""

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore import Decider, Event, EventNotApplicableError
from eventcore.personal_data import SealedData
from orders.commands import CancelOrder, ConfirmOrder, DeliverOrder, OrderCommand, PlaceOrder, ShipOrder
from orders.errors import (
    OrderAlreadyCancelledError,
    OrderAlreadyExistsError,
    OrderAlreadyShippedError,
    OrderNotConfirmedError,
    OrderNotFoundError,
    OrderNotShippedError,
    PaymentMismatchError,
)
from orders.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderShipped,
    order_events,
)
from orders.pricing import OrderLine

# -- state ---------------------------------------------------------------------------------------------------


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


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
                placed_at=created.placed_at,
                updated_at=created.placed_at,
            )
        case Order() as order, OrderConfirmed() as confirmed:
            return order.model_copy(
                update={
                    "status": OrderStatus.CONFIRMED,
                    "payment_id": confirmed.payment_id,
                    "updated_at": confirmed.confirmed_at,
                }
            )
        case Order() as order, OrderCancelled() as cancelled:
            return order.model_copy(
                update={
                    "status": OrderStatus.CANCELLED,
                    "cancellation_reason": cancelled.reason,
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
                update={"status": OrderStatus.DELIVERED, "updated_at": delivered.delivered_at}
            )
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
        case _:
            raise TypeError(f"not an order command: {command!r}")


order_decider: Decider[OrderCommand, Order | None] = Decider(
    aggregate="Order",
    initial_state=None,
    decide=decide,
    evolve=evolve,
    registry=order_events,
    state_type=Order | None,
    snapshot_every=50,
)
