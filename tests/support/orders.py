"""What the tests and benchmarks send to the orders API: a shipping address, and an order's body."""

from __future__ import annotations

from typing import Any

ADDRESS: dict[str, str] = {
    "name": "Alice Example",
    "line1": "Oudegracht 1",
    "city": "Utrecht",
    "postal_code": "3511 AA",
    "country": "NL",
}


def order_body(*lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    """`POST /orders`'s body for `lines` (sku, quantity), shipped to ADDRESS unless `fields` say otherwise."""
    return {
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        "shipping_address": dict(ADDRESS),
        **fields,
    }
