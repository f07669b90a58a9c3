"""The Stock aggregate's events: the facts stored in the inventory event log and published on
`inventory-events`, a storage and integration contract. Change a stored shape only by bumping the event's
`schema_version` and registering an upcaster below."""

from typing import Any, ClassVar

from pydantic import AwareDatetime

from eventcore import Event, EventRegistry


class StockOpened(Event):
    """The warehouse started keeping one bucket of this SKU with `quantity` on hand (bucket 0: the configured
    opening balance; another bucket: none, its units move in). `layouts`: every number of buckets the SKU's
    stock has been kept in, the current one last. Version 2 added `bucket` and `layouts` (version 1: the
    one bucket there was)."""

    schema_version: ClassVar[int] = 2
    sku: str
    quantity: int
    opened_at: AwareDatetime
    bucket: int = 0
    layouts: tuple[int, ...] = (1,)


class StockSplit(Event):
    """From now on the SKU's stock is kept in `buckets` buckets (it was `previous`); recorded in every bucket
    the SKU has, bucket 0 last (the routers read the layout there), so each bucket knows the layout its own
    decisions depend on before any reservation is routed by it."""

    sku: str
    buckets: int
    previous: int
    split_at: AwareDatetime


class StockMovedOut(Event):
    """`quantity` available units left this bucket for bucket `to_bucket`: that bucket's from now on, in
    transit until it records them (StockMovedIn). One fact on one stream: a move needs no transaction."""

    sku: str
    move_id: str
    to_bucket: int
    quantity: int
    moved_at: AwareDatetime


class StockMovedIn(Event):
    """This bucket claimed `quantity` units bucket `from_bucket` had given it (one or more StockMovedOut of
    that bucket, not claimed before): what this bucket has received from it in all never exceeds what it
    gave."""

    sku: str
    move_id: str
    from_bucket: int
    quantity: int
    moved_at: AwareDatetime


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
    StockOpened
    | StockSplit
    | StockMovedOut
    | StockMovedIn
    | StockReceived
    | StockReserved
    | StockReservationRefused
    | StockReleased
    | StockCommitted
)

stock_events = EventRegistry(
    [
        StockOpened,
        StockSplit,
        StockMovedOut,
        StockMovedIn,
        StockReceived,
        StockReserved,
        StockReservationRefused,
        StockReleased,
        StockCommitted,
    ]
)


@stock_events.upcaster("StockOpened", 1)
def _one_bucket(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "bucket": 0, "layouts": [1]}
