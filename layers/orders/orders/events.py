"""The Order aggregate's events: the facts stored in its log, a storage contract. Change a stored shape
only by bumping the event's `schema_version` and registering an upcaster from the previous one below."""

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime

from eventcore import Event, EventRegistry
from eventcore.personal_data import SealedData
from orders.pricing import OrderLine

CancellationReason = Literal[
    "customer_request",
    "payment_declined",
    "out_of_stock",
    "payment_timeout",
    "stock_timeout",
    "address_erased",
]


class OrderCreated(Event):
    """An order was placed and priced. v2 renamed v1's `country` to `destination_country`; v3 added
    `personal`, the shipping address and email sealed under the customer's key (ciphertext only)."""

    schema_version: ClassVar[int] = 3

    order_id: str
    customer_id: str
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


class OrderConfirmed(Event):
    """The order's payment was authorised."""

    order_id: str
    payment_id: str
    confirmed_at: AwareDatetime


class OrderCancelled(Event):
    order_id: str
    reason: CancellationReason
    cancelled_at: AwareDatetime


class OrderShipped(Event):
    """The parcel left with `carrier` under `tracking_number`. v2 added the carrier and tracking number (a v1
    event, from before shipping recorded them, reads with both None)."""

    schema_version: ClassVar[int] = 2

    order_id: str
    carrier: str | None
    tracking_number: str | None
    shipped_at: AwareDatetime


class OrderDelivered(Event):
    order_id: str
    delivered_at: AwareDatetime


OrderEvent = OrderCreated | OrderConfirmed | OrderCancelled | OrderShipped | OrderDelivered

order_events = EventRegistry([OrderCreated, OrderConfirmed, OrderCancelled, OrderShipped, OrderDelivered])


@order_events.upcaster("OrderCreated", 1)
def _order_created_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Same value, clearer name: v1 called the destination just `country`.
    upcast = {key: value for key, value in data.items() if key != "country"}
    upcast["destination_country"] = data["country"]
    return upcast


@order_events.upcaster("OrderCreated", 2)
def _order_created_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    # Orders placed before personal data was taken carry none.
    return {**data, "personal": None}


@order_events.upcaster("OrderShipped", 1)
def _order_shipped_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 knew no carrier: nothing to invent, so both read as unknown.
    return {**data, "carrier": None, "tracking_number": None}
