"""What a customer sees of an order: one JSON document, the same from the command API and the read model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orders.order import Order


def order_document(order: Order, version: int) -> dict[str, Any]:
    return {**order.model_dump(mode="json"), "version": version}
