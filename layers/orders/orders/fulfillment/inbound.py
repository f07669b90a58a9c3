"""What the order-fulfillment process hears: the order's own events, the answers of payments and inventory,
the parcel's progress from shipping (each as orders reads another context's published contract: only the
fields it needs, every schema version it understands), and its own deadline. Every event type of those
streams is named here, handled or deliberately ignored; any other type, or another schema version, is
parked, never guessed at."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore.errors import UnknownEventTypeError, UnsupportedSchemaVersionError
from eventcore.messaging.inbound import InboundEvents, UnexpectedEventError
from orders.events import OrderCancelled, OrderCreated, ReturnReceived, ReturnRequested, order_events

if TYPE_CHECKING:
    from collections.abc import Mapping

    from eventcore.messaging.inbound import PublishedEvent

Context = Literal["orders", "payments", "inventory", "shipping"]


class _Inbound(BaseModel):
    # Fields orders does not use are ignored, so another context may add fields without a new schema version.
    model_config = ConfigDict(frozen=True, extra="ignore")


class PaymentAuthorized(_Inbound):
    """payments' PaymentAuthorized, schema version 1, with the fields orders reads."""

    payment_id: str
    order_id: str
    authorized_at: AwareDatetime


class PaymentDeclined(_Inbound):
    """payments' PaymentDeclined, schema version 1, with the fields orders reads."""

    payment_id: str
    order_id: str
    reason: str
    declined_at: AwareDatetime


class PaymentCaptured(_Inbound):
    """payments' PaymentCaptured, schema version 1, with the fields orders reads."""

    payment_id: str
    order_id: str
    amount: int
    captured_at: AwareDatetime


class PaymentRefunded(_Inbound):
    """payments' PaymentRefunded, schema version 1, with the fields orders reads."""

    order_id: str
    refund_id: str
    amount: int
    refunded_at: AwareDatetime


class StockReserved(_Inbound):
    """inventory's StockReserved, schema version 1, with the fields orders reads."""

    sku: str
    order_id: str
    reserved_at: AwareDatetime


class StockReservationRefused(_Inbound):
    """inventory's StockReservationRefused, schema version 1, with the fields orders reads."""

    sku: str
    order_id: str
    available: int
    refused_at: AwareDatetime


class ShipmentDispatched(_Inbound):
    """shipping's ShipmentDispatched, schema version 1, with the fields orders reads."""

    order_id: str
    carrier: str
    tracking_number: str
    dispatched_at: AwareDatetime


class ShipmentDelivered(_Inbound):
    """shipping's ShipmentDelivered, schema version 1, with the fields orders reads."""

    order_id: str
    delivered_at: AwareDatetime


class ShipmentUndeliverable(_Inbound):
    """shipping's ShipmentUndeliverable, schema version 1: the parcel cannot go (its address was erased)."""

    order_id: str
    reason: str
    noticed_at: AwareDatetime


class DeadlinePassed(BaseModel):
    """The order's deadline message came back: `at` is when it was read. `return_id` names the return whose
    parcel is awaited, `watch` the authorisation looked at before it expires; neither: the order's own
    deadline for its answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    at: AwareDatetime
    return_id: str | None = None
    watch: Literal["authorisation"] | None = None


PaymentOutcome = PaymentAuthorized | PaymentDeclined | PaymentCaptured | PaymentRefunded
StockOutcome = StockReserved | StockReservationRefused
ShipmentProgress = ShipmentDispatched | ShipmentDelivered | ShipmentUndeliverable

PAYMENT_EVENTS: InboundEvents[PaymentOutcome] = InboundEvents(
    "payment",
    handled={
        "PaymentAuthorized": (frozenset({1}), PaymentAuthorized),
        "PaymentDeclined": (frozenset({1}), PaymentDeclined),
        "PaymentCaptured": (frozenset({1}), PaymentCaptured),
        "PaymentRefunded": (frozenset({1}), PaymentRefunded),
    },
    # A refused capture is payments' alarm (PaymentsCaptureFailed) for a person; a refund's request precedes
    # the refund the process waits for.
    ignored=frozenset(
        {"PaymentRequested", "PaymentVoided", "PaymentCaptureFailed", "PaymentRefundRequested"}
    ),
)
STOCK_EVENTS: InboundEvents[StockOutcome] = InboundEvents(
    "inventory",
    handled={
        "StockReserved": (frozenset({1}), StockReserved),
        "StockReservationRefused": (frozenset({1}), StockReservationRefused),
    },
    # Openings, splits, moves between a SKU's buckets and receipts are the warehouse's own business.
    ignored=frozenset(
        {
            "StockOpened",
            "StockSplit",
            "StockMovedOut",
            "StockMovedIn",
            "StockReceived",
            "StockReleased",
            "StockCommitted",
        }
    ),
)
SHIPMENT_EVENTS: InboundEvents[ShipmentProgress] = InboundEvents(
    "shipment",
    handled={
        "ShipmentDispatched": (frozenset({1}), ShipmentDispatched),
        "ShipmentDelivered": (frozenset({1}), ShipmentDelivered),
        "ShipmentUndeliverable": (frozenset({1}), ShipmentUndeliverable),
    },
    # Planned, ready and cancelled follow the process's own commands to shipping.
    ignored=frozenset({"ShipmentPlanned", "ShipmentReady", "ShipmentCancelled"}),
)
# The order's own events the process reacts to; the others (confirmation, shipping, the capture and refunds
# recorded, a return expired) it caused or ignores.
ORDER_EVENTS_HANDLED = frozenset({"OrderCreated", "OrderCancelled", "ReturnRequested", "ReturnReceived"})
OrderFact = OrderCreated | OrderCancelled | ReturnRequested | ReturnReceived

FulfillmentInput = OrderFact | PaymentOutcome | StockOutcome | ShipmentProgress | DeadlinePassed


def read_fact(event: PublishedEvent, sources: Mapping[str, Context]) -> FulfillmentInput | None:
    """A published event as the process reads it (None: a type it needs nothing from). `sources` names the
    context of each CloudEvents `source`; an unknown source, type or schema version raises
    `UnexpectedEventError`, which parks the record."""
    match sources.get(event.source):
        case "orders":
            # The order's own events, read with the orders' registry (upcast to their current shape).
            try:
                fact = order_events.decode_data(event.event_type, event.schema_version, event.data)
            except (UnknownEventTypeError, UnsupportedSchemaVersionError) as error:
                raise UnexpectedEventError(str(error)) from error
            if event.event_type not in ORDER_EVENTS_HANDLED:
                return None  # caused by the process itself, or needing nothing from it
            return (
                fact
                if isinstance(fact, OrderCreated | OrderCancelled | ReturnRequested | ReturnReceived)
                else None
            )
        case "payments":
            return PAYMENT_EVENTS.read(event.event_type, event.schema_version, event.data)
        case "inventory":
            return STOCK_EVENTS.read(event.event_type, event.schema_version, event.data)
        case "shipping":
            return SHIPMENT_EVENTS.read(event.event_type, event.schema_version, event.data)
    raise UnexpectedEventError(
        f"event {event.event_id} comes from {event.source!r}, which this process does not hear"
    )
