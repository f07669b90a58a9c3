"""The documents the orders API answers with, as models: what the OpenAPI document shows a client, and what
the contract test holds every answer to. The handlers build the documents themselves (`orders.views`,
`orders.personal.for_owner`, `orders.queries`); these only describe them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from orders.order import OrderStatus
from orders.personal import ShippingAddress

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
