"""The documents the orders API answers with, as models: what the OpenAPI document shows a client, and what
the contract test holds every answer to. The handlers build the documents themselves (`orders.views`,
`orders.personal_details.for_owner`, `orders.queries`); these only describe them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orders.order import OrderStatus
from orders.personal_details import ShippingAddress

Money = int  # minor units of `currency` (cents), never floats


class OrderLineResponse(BaseModel):
    sku: str
    name: str
    quantity: int = Field(ge=1, le=100)
    unit_price: Money
    line_total: Money


class OrderResponse(BaseModel):
    """An order as its owner sees it. `personal_data` says whether the address and email are shown
    (`available`), were erased at the customer's request (`erased`), or were never given (`none`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": "0f8e4c1a-3b2d-5e6f-9a7b-1c2d3e4f5a6b",
                    "customer_id": "customer-alice",
                    "status": "pending_payment",
                    "lines": [
                        {
                            "sku": "SKU-TEA-001",
                            "name": "Green tea, 100 g",
                            "quantity": 2,
                            "unit_price": 1250,
                            "line_total": 2500,
                        },
                        {
                            "sku": "SKU-MUG-001",
                            "name": "Stoneware mug",
                            "quantity": 1,
                            "unit_price": 1800,
                            "line_total": 1800,
                        },
                    ],
                    "currency": "EUR",
                    "subtotal": 4300,
                    "discount": 430,
                    "campaign_code": "WELCOME10",
                    "shipping": 495,
                    "total": 4365,
                    "destination_country": "NL",
                    "placed_at": "2026-11-26T10:15:00Z",
                    "updated_at": "2026-11-26T10:15:00Z",
                    "payment_id": None,
                    "cancellation_reason": None,
                    "carrier": None,
                    "tracking_number": None,
                    "shipping_address": {
                        "name": "Alice Example",
                        "line1": "Oudegracht 1",
                        "line2": None,
                        "city": "Utrecht",
                        "postal_code": "3511 AA",
                        "country": "NL",
                    },
                    "email": "alice@example.com",
                    "personal_data": "available",
                    "version": 1,
                }
            ]
        }
    )

    order_id: str = Field(description="A UUID.")
    customer_id: str
    status: OrderStatus
    lines: list[OrderLineResponse]
    currency: str = Field(description="ISO 4217, e.g. EUR.")
    subtotal: Money
    discount: Money
    campaign_code: str | None
    shipping: Money
    total: Money
    destination_country: str
    placed_at: datetime
    updated_at: datetime
    payment_id: str | None
    cancellation_reason: str | None
    carrier: str | None
    tracking_number: str | None
    shipping_address: ShippingAddress | None
    email: str | None
    personal_data: Literal["available", "erased", "none"]
    version: int = Field(ge=1, description="The order's version: its ETag.")


class OrderSummaryResponse(BaseModel):
    order_id: str
    status: OrderStatus
    currency: str
    total: Money
    placed_at: datetime
    updated_at: datetime
    version: int


class OrderListResponse(BaseModel):
    orders: list[OrderSummaryResponse] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class OrderEventResponse(BaseModel):
    version: int
    event_id: str
    type: str = Field(description="The event type, e.g. OrderCreated (docs/event-catalogue.md).")
    schema_version: int
    recorded_at: datetime
    data: dict[str, Any]
    correlation_id: str | None
    causation_id: str | None


class OrderEventsResponse(BaseModel):
    order_id: str
    events: list[OrderEventResponse] = Field(description="Oldest first: the audit trail.")
    next_cursor: str | None
