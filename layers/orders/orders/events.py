"""The Order aggregate's events: the facts stored in its log, a storage contract. Change a stored shape
only by bumping the event's `schema_version` and registering an upcaster from the previous one below."""

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

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


ItemCondition = Literal["sellable", "damaged"]


class OrderCreated(Event):
    """An order was placed and priced. v2 renamed v1's `country` to `destination_country`; v3 added
    `personal`, the shipping address and email sealed under the customer's key (ciphertext only); v4 added
    `payment_method`, the provider's token of the payment method (never card data; None: the customer's
    card on file, as every order before v4)."""

    schema_version: ClassVar[int] = 4

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
    payment_method: str | None = None
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


class OrderPaymentCaptured(Event):
    """Payments took `amount` (what shipped) from the order's authorisation."""

    order_id: str
    amount: int
    captured_at: AwareDatetime


class OrderPaymentExpiring(Event):
    """The payment's authorisation expires at `expires_at` and the parcel has not left: shown on the order
    and alarmed, for a person to re-authorise with the customer or hold the parcel."""

    order_id: str
    expires_at: AwareDatetime
    noticed_at: AwareDatetime


class ReturnLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int


class ReceivedLine(BaseModel):
    """A returned line as the warehouse found it: `sellable` goes back into stock, `damaged` does not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int
    condition: ItemCondition


class ReturnRequested(Event):
    """The customer asked to return `lines` of the delivered order; the parcel is awaited until
    `deadline_at`, when the return expires if it never arrived."""

    order_id: str
    return_id: str
    lines: tuple[ReturnLine, ...]
    requested_at: AwareDatetime
    deadline_at: AwareDatetime


class ReturnReceived(Event):
    """The warehouse received the return's parcel: `lines` as found. `refund` is what it refunds, by the
    rule of `orders.refunds` over everything received back from the order before it."""

    order_id: str
    return_id: str
    lines: tuple[ReceivedLine, ...]
    refund: int
    received_at: AwareDatetime


class ReturnExpired(Event):
    """The return's parcel never arrived by its deadline: nothing refunded, its lines may be asked again."""

    order_id: str
    return_id: str
    expired_at: AwareDatetime


class ReturnRefunded(Event):
    """Payments gave back `amount` for the return (in the order's `currency`; `campaign_code` is the order's,
    so sales figures net of refunds need nothing else)."""

    order_id: str
    return_id: str
    amount: int
    currency: str
    campaign_code: str | None
    refunded_at: AwareDatetime


OrderEvent = (
    OrderCreated
    | OrderConfirmed
    | OrderCancelled
    | OrderShipped
    | OrderDelivered
    | OrderPaymentCaptured
    | OrderPaymentExpiring
    | ReturnRequested
    | ReturnReceived
    | ReturnExpired
    | ReturnRefunded
)

order_events = EventRegistry(
    [
        OrderCreated,
        OrderConfirmed,
        OrderCancelled,
        OrderShipped,
        OrderDelivered,
        OrderPaymentCaptured,
        OrderPaymentExpiring,
        ReturnRequested,
        ReturnReceived,
        ReturnExpired,
        ReturnRefunded,
    ]
)


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


@order_events.upcaster("OrderCreated", 3)
def _order_created_v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    # Orders placed before checkout took a payment method were paid with the customer's card on file.
    return {**data, "payment_method": None}


@order_events.upcaster("OrderShipped", 1)
def _order_shipped_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 knew no carrier: nothing to invent, so both read as unknown.
    return {**data, "carrier": None, "tracking_number": None}
