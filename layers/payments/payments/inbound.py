"""The order events payments reacts to, as payments reads them: its own view of the orders' published
contract, with only the fields it needs and every schema version it understands. Payments imports nothing
from the orders domain; a new schema version of these events must be added here before it can be handled
(until then its records fail and are parked, never guessed at)."""

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from microsystem.messages import InboundEvents


class _Inbound(BaseModel):
    # Fields payments does not use are ignored, so orders may add fields without a new schema version.
    model_config = ConfigDict(frozen=True, extra="ignore")


class OrderCreated(_Inbound):
    """Schema versions 1 and 2 (v2 renamed `country`, which payments does not read), as read here."""

    order_id: str
    customer_id: str
    total: int
    currency: str
    placed_at: AwareDatetime


class OrderCancelled(_Inbound):
    """Schema version 1, as payments reads it."""

    order_id: str
    reason: str
    cancelled_at: AwareDatetime


# Every order event type is named here: the ones payments acts on (with the schema versions it reads), and
# the ones it deliberately ignores. Any other type, or another schema version, is parked.
OrderEvent = OrderCreated | OrderCancelled
ORDER_EVENTS: InboundEvents[OrderEvent] = InboundEvents(
    "order",
    handled={
        "OrderCreated": (frozenset({1, 2}), OrderCreated),
        "OrderCancelled": (frozenset({1}), OrderCancelled),
    },
    ignored=frozenset({"OrderConfirmed", "OrderShipped"}),
)


def read_order_event(event_type: str, schema_version: int, data: dict[str, Any]) -> OrderEvent | None:
    """The event as payments understands it; None for events payments ignores."""
    return ORDER_EVENTS.read(event_type, schema_version, data)
