"""What a customer sees of an order: one JSON document, the same from the command API, the read model and
time travel. Times are UTC with microseconds, so as text they sort in time order (the read model's index
on `placed_at` relies on it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orders.order import Order

TIME_FIELDS = ("placed_at", "updated_at")


def canonical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def order_view(order: Order) -> dict[str, Any]:
    """The order's document without its version (the read model keeps the version beside it)."""
    document = order.model_dump(mode="json")
    for name in TIME_FIELDS:
        document[name] = canonical_time(getattr(order, name))
    return document


def order_document(order: Order, version: int) -> dict[str, Any]:
    return {**order_view(order), "version": version}
