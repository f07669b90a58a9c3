"""The documents the orders API answers with, as models: what the OpenAPI document shows a client, and what
the contract test holds every answer to. The handlers build the documents themselves (`orders.views`,
`orders.personal_details.for_owner`, `orders.queries`); these only describe them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orders.events import ItemCondition
from orders.order import OrderStatus, ReturnStatus
from orders.personal_details import ShippingAddress

Money = int  # minor units of `currency` (cents), never floats


class OrderLineResponse(BaseModel):
    sku: str
    name: str
    quantity: int = Field(ge=1, le=100)
    unit_price: Money
    line_total: Money


class ReturnLineResponse(BaseModel):
    sku: str
    quantity: int = Field(ge=1, le=100)


class ReceivedLineResponse(BaseModel):
    sku: str
    quantity: int = Field(ge=1, le=100)
    condition: ItemCondition = Field(description="`sellable` goes back into stock; `damaged` does not.")


class ReturnResponse(BaseModel):
    """One return of the order: asked, received (and what it refunds), refunded, or expired unreceived."""

    return_id: str
    status: ReturnStatus
    lines: list[ReturnLineResponse] = Field(description="What the customer asked to return.")
    requested_at: datetime
    deadline_at: datetime = Field(
        description="The parcel is awaited until then; after it the return expires."
    )
    received: list[ReceivedLineResponse] = Field(description="What the warehouse received, as it found it.")
    refund: Money = Field(description="What the return refunds (docs/payments.md), once received.")
    updated_at: datetime


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
                    "payment_method": "pm_card_visa",
                    "delivered_at": None,
                    "authorised": 0,
                    "captured": 0,
                    "refunded": 0,
                    "authorisation_expires_at": None,
                    "returns": [],
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
    payment_method: str | None = Field(
        description="The provider's token of the payment method (`pm_...`); null: the card on file."
    )
    delivered_at: datetime | None
    authorised: Money = Field(description="Held on the payment method (0 once released or never held).")
    captured: Money = Field(description="Taken when the parcel left.")
    refunded: Money = Field(description="Given back for returns: never more than `captured`.")
    authorisation_expires_at: datetime | None = Field(
        description="Set when the payment's authorisation is about to expire before the parcel left: a "
        "person re-authorises or holds it (docs/payments.md)."
    )
    returns: list[ReturnResponse] = Field(description="Oldest first.")
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
