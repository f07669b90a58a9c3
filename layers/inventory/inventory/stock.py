"""The Stock aggregate as a decider, one per bucket of a SKU: what the bucket has on hand and what each order
holds in it. A SKU's stock is kept in one bucket or several (each its own stream, so a flash sale is decided
by several writers at once: inventory.buckets); bucket 0 also keeps how many buckets there are. Stock is
never reserved beyond what is on hand, an order holds a bucket's stock at most once, and units move between
buckets of a SKU as a fact of the giving bucket (StockMovedOut), which the receiving bucket later claims
(StockMovedIn): each bucket counts what it gave and received per sibling, so what is in transit is their
difference, and no move needs two streams written together. Pure: time arrives with the command.

What the state keeps is bounded by the orders holding stock right now (reserved, not yet shipped or
released); a reservation asked for after its order's deadline is ignored, since the order's process manager
has given up on it by then (and compensates any late answer)."""

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore import Decider, Event, EventNotApplicableError
from inventory.commands import (
    CommitStock,
    MoveStockIn,
    MoveStockOut,
    OpenStock,
    ReceiveStock,
    ReleaseStock,
    ReserveStock,
    SplitStock,
    StockCommand,
)
from inventory.errors import NotEnoughToMoveError, ReservationMismatchError, StockNotOpenedError
from inventory.events import (
    StockCommitted,
    StockMovedIn,
    StockMovedOut,
    StockOpened,
    StockReceived,
    StockReleased,
    StockReservationRefused,
    StockReserved,
    StockSplit,
    stock_events,
)

# -- state ---------------------------------------------------------------------------------------------------


class Stock(BaseModel):
    """A bucket of a SKU's stock once opened (before that, None). `reservations`: order id -> quantity it
    holds. Every bucket knows the layout: `layouts` are the numbers of buckets the SKU's stock has been kept
    in, the current one last (a reservation made before a split is in its order's home bucket of the layout
    of the time). `sent` and `received`: units given to and claimed from each sibling bucket, in all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    bucket: int = 0
    layouts: tuple[int, ...] = (1,)
    on_hand: int
    reservations: dict[str, int]
    updated_at: AwareDatetime
    sent: dict[int, int] = {}
    received: dict[int, int] = {}

    @property
    def buckets(self) -> int:
        """How many buckets the SKU's stock is kept in now."""
        return self.layouts[-1]

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def _counted(counts: dict[int, int], bucket: int, units: int) -> dict[int, int]:
    return {**counts, bucket: counts.get(bucket, 0) + units}


def _holding(stock: Stock, order_id: str, quantity: int | None, at: AwareDatetime) -> Stock:
    """The stock with the order holding `quantity` (None: holding nothing)."""
    reservations = dict(stock.reservations)
    if quantity is None:
        reservations.pop(order_id, None)
    else:
        reservations[order_id] = quantity
    return stock.model_copy(update={"reservations": reservations, "updated_at": at})


def evolve(state: Stock | None, event: Event) -> Stock | None:
    match state, event:
        case None, StockOpened() as opened:
            return Stock(
                sku=opened.sku,
                bucket=opened.bucket,
                layouts=tuple(opened.layouts),
                on_hand=opened.quantity,
                reservations={},
                updated_at=opened.opened_at,
            )
        case Stock() as stock, StockSplit() as split:
            layouts = (*(count for count in stock.layouts if count != split.buckets), split.buckets)
            return stock.model_copy(update={"layouts": layouts, "updated_at": split.split_at})
        case Stock() as stock, StockMovedOut() as out:
            return stock.model_copy(
                update={
                    "on_hand": stock.on_hand - out.quantity,
                    "sent": _counted(stock.sent, out.to_bucket, out.quantity),
                    "updated_at": out.moved_at,
                }
            )
        case Stock() as stock, StockMovedIn() as in_:
            return stock.model_copy(
                update={
                    "on_hand": stock.on_hand + in_.quantity,
                    "received": _counted(stock.received, in_.from_bucket, in_.quantity),
                    "updated_at": in_.moved_at,
                }
            )
        case Stock() as stock, StockReceived() as received:
            return stock.model_copy(
                update={"on_hand": stock.on_hand + received.quantity, "updated_at": received.received_at}
            )
        case Stock() as stock, StockReserved() as reserved:
            return _holding(stock, reserved.order_id, reserved.quantity, reserved.reserved_at)
        case Stock() as stock, StockReservationRefused() as refused:
            return stock.model_copy(update={"updated_at": refused.refused_at})
        case Stock() as stock, StockReleased() as released:
            return _holding(stock, released.order_id, None, released.released_at)
        case Stock() as stock, StockCommitted() as committed:
            shipped = _holding(stock, committed.order_id, None, committed.committed_at)
            return shipped.model_copy(update={"on_hand": stock.on_hand - committed.quantity})
    # Only a damaged or misrouted stream gets here (a second opening, a change before the opening).
    raise EventNotApplicableError(event, state)


# -- decisions -----------------------------------------------------------------------------------------------


def decide(command: StockCommand, state: Stock | None) -> list[Event]:
    match command, state:
        case OpenStock() as open_, None:
            return [
                StockOpened(
                    sku=open_.sku,
                    quantity=open_.quantity,
                    opened_at=open_.at,
                    bucket=open_.bucket,
                    layouts=open_.layouts,
                )
            ]
        case OpenStock(), Stock():
            return []  # opened already: the opening balance is a fact of the past
        case _, None:
            raise StockNotOpenedError(command.sku)

        case SplitStock() as split, Stock() as stock:
            # Every layout told that this bucket does not know yet, then the current one last: nothing when
            # the bucket knows them all and is kept in that many buckets already.
            layouts = split.layouts or (split.buckets,)
            splits: list[Event] = []
            current = stock.buckets
            for count in layouts[:-1]:
                if count not in stock.layouts:
                    splits.append(
                        StockSplit(sku=split.sku, buckets=count, previous=current, split_at=split.at)
                    )
                    current = count
            if current != split.buckets:
                splits.append(
                    StockSplit(sku=split.sku, buckets=split.buckets, previous=current, split_at=split.at)
                )
            return splits

        case MoveStockOut() as out, Stock() as stock if stock.available < out.quantity:
            raise NotEnoughToMoveError(out.sku, stock.bucket, out.quantity, stock.available)
        case MoveStockOut() as out, Stock():
            return [
                StockMovedOut(
                    sku=out.sku,
                    move_id=out.move_id,
                    to_bucket=out.to_bucket,
                    quantity=out.quantity,
                    moved_at=out.at,
                )
            ]
        case MoveStockIn() as in_, Stock() as stock:
            owed = in_.sent_total - stock.received.get(in_.from_bucket, 0)
            if owed <= 0:
                return []  # claimed already (a claim again, or one from a staler read)
            return [
                StockMovedIn(
                    sku=in_.sku,
                    move_id=in_.move_id,
                    from_bucket=in_.from_bucket,
                    quantity=owed,
                    moved_at=in_.at,
                )
            ]

        case ReceiveStock() as receive, Stock():
            return [
                StockReceived(
                    sku=receive.sku,
                    receipt_id=receive.receipt_id,
                    quantity=receive.quantity,
                    received_at=receive.at,
                )
            ]

        case ReserveStock() as reserve, Stock() as stock if reserve.order_id in stock.reservations:
            held = stock.reservations[reserve.order_id]
            if held != reserve.quantity:
                raise ReservationMismatchError(stock.sku, reserve.order_id, held, reserve.quantity)
            return []  # already held for this order: a redelivered request
        case ReserveStock() as reserve, Stock() if reserve.at > reserve.expires_at:
            return []  # too late: the order's deadline has passed and its process manager gave up on it
        case ReserveStock() as reserve, Stock() as stock if stock.available >= reserve.quantity:
            return [
                StockReserved(
                    sku=stock.sku,
                    order_id=reserve.order_id,
                    quantity=reserve.quantity,
                    reserved_at=reserve.at,
                )
            ]
        case ReserveStock() as reserve, Stock() as stock:
            return [
                StockReservationRefused(
                    sku=stock.sku,
                    order_id=reserve.order_id,
                    requested=reserve.quantity,
                    available=stock.available,
                    refused_at=reserve.at,
                )
            ]

        case ReleaseStock() as release, Stock() as stock if release.order_id in stock.reservations:
            return [
                StockReleased(
                    sku=stock.sku,
                    order_id=release.order_id,
                    quantity=stock.reservations[release.order_id],
                    reason=release.reason,
                    released_at=release.at,
                )
            ]
        case ReleaseStock(), Stock():
            return []  # the order holds nothing: never reserved, refused, released or shipped already

        case CommitStock() as commit, Stock() as stock if commit.order_id in stock.reservations:
            return [
                StockCommitted(
                    sku=stock.sku,
                    order_id=commit.order_id,
                    quantity=stock.reservations[commit.order_id],
                    committed_at=commit.at,
                )
            ]
        case CommitStock(), Stock():
            return []  # committed already (a redelivery), or released: nothing is held to ship
    raise TypeError(f"not a stock command: {command!r}")


stock_decider: Decider[StockCommand, Stock | None] = Decider(
    aggregate="Stock",
    initial_state=None,
    decide=decide,
    evolve=evolve,
    registry=stock_events,
    state_type=Stock | None,
    # The state grows with the orders holding stock; a snapshot every 100 events keeps the cold load one
    # query and the snapshot writes rare on a busy SKU.
    snapshot_every=100,
    state_schema=2,  # 2: what each bucket gave and claimed per sibling (moves without transactions)
)
