"""The order events shipping reacts to, as shipping reads them: its own view of the orders' published
contract, with only the fields it needs and every schema version it understands. Shipping imports nothing
from the orders domain; a new schema version must be added here before it can be handled (until then its
records fail and are parked, never guessed at)."""

from __future__ import annotations

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field

from eventcore.messaging.inbound import InboundEvents
from eventcore.personal_data import SealedData


class _Inbound(BaseModel):
    # Fields shipping does not use are ignored, so orders may add fields without a new schema version.
    model_config = ConfigDict(frozen=True, extra="ignore")


class OrderLine(_Inbound):
    sku: str
    name: str
    quantity: int


class OrderCreated(_Inbound):
    """Schema versions 1 to 3, as shipping reads them: v2 renamed `country` to `destination_country`, v3
    added `personal` (the address, sealed under the customer's key: shipping keeps it sealed, and opens it
    only to hand the parcel to the carrier)."""

    order_id: str
    customer_id: str
    lines: tuple[OrderLine, ...]
    destination_country: str = Field(validation_alias=AliasChoices("destination_country", "country"))
    personal: SealedData | None = None
    placed_at: AwareDatetime


class OrderConfirmed(_Inbound):
    order_id: str
    confirmed_at: AwareDatetime


class OrderCancelled(_Inbound):
    order_id: str
    reason: str
    cancelled_at: AwareDatetime


OrderEvent = OrderCreated | OrderConfirmed | OrderCancelled

# Every order event type is named here: the ones shipping acts on (with the schema versions it reads), and
# the ones it deliberately ignores (shipping caused them). Any other type, or another version, is parked.
ORDER_EVENTS: InboundEvents[OrderEvent] = InboundEvents(
    "order",
    handled={
        "OrderCreated": (frozenset({1, 2, 3}), OrderCreated),
        "OrderConfirmed": (frozenset({1}), OrderConfirmed),
        "OrderCancelled": (frozenset({1}), OrderCancelled),
    },
    ignored=frozenset({"OrderShipped", "OrderDelivered"}),
)
