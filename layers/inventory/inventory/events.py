"""The Stock aggregate's events: the facts stored in the inventory event log and published on
`inventory-events`, a storage and integration contract. Change a stored shape only by bumping the event's
`schema_version` and registering an upcaster below."""

from pydantic import AwareDatetime

from eventcore import Event, EventRegistry


class StockOpened(Event):
    """The warehouse started keeping this SKU, with `quantity` on hand (the configured opening balance)."""

    sku: str
    quantity: int
    opened_at: AwareDatetime


class StockReceived(Event):
    sku: str
    receipt_id: str
    quantity: int
    received_at: AwareDatetime


class StockReserved(Event):
    """`quantity` is held for the order: no other order can have it."""

    sku: str
    order_id: str
    quantity: int
    reserved_at: AwareDatetime


class StockReservationRefused(Event):
    """Not enough was available for the order: nothing is held for it."""

    sku: str
    order_id: str
    requested: int
    available: int
    refused_at: AwareDatetime


class StockReleased(Event):
    """What the order held is available again."""

    sku: str
    order_id: str
    quantity: int
    reason: str
    released_at: AwareDatetime


class StockCommitted(Event):
    """What the order held left the warehouse with it: on hand and reserved both go down by `quantity`."""

    sku: str
    order_id: str
    quantity: int
    committed_at: AwareDatetime


StockEvent = (
    StockOpened | StockReceived | StockReserved | StockReservationRefused | StockReleased | StockCommitted
)

stock_events = EventRegistry(
    [StockOpened, StockReceived, StockReserved, StockReservationRefused, StockReleased, StockCommitted]
)
