"""The orders read side's queries: a customer's orders, one order (from the read model, from the log, or as
of a version or a time) and its audit trail. The read model's layout (its index, what a page position holds)
is the view store's; cursors are opaque to clients and checked here before use. A customer only ever sees
their own orders, and only they see the order's address and email (opened from its sealed personal data):
anyone else's id answers exactly like a missing one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eventcore.read.cursors import InvalidCursorError, decode_cursor, encode_cursor
from eventcore.read.view_store import ViewIndex
from eventcore.write.audit import entries, state_at
from orders.errors import OrderNotFoundError
from orders.events import OrderCreated, order_events
from orders.ids import is_order_id
from orders.order import order_decider
from orders.personal_details import for_owner
from orders.views import order_document

if TYPE_CHECKING:
    from eventcore import DeciderRunner, EventStore
    from eventcore.personal_data import Vault
    from eventcore.read.view_store import ViewStore
    from orders.commands import OrderCommand
    from orders.order import Order

# A customer's orders newest first: placed_at is UTC ISO 8601 with microseconds, so it sorts as text.
ORDERS_BY_CUSTOMER = ViewIndex("by-customer", partition="customer_id", sort="placed_at")
LIST_ATTRIBUTES = ("order_id", "status", "currency", "total", "placed_at", "updated_at", "version")
MAX_VERSION = 10**12 - 1  # far beyond any stream, and well inside DynamoDB's 38-digit numbers


class VersionNotFoundError(OrderNotFoundError):
    """The order exists (and is the caller's) but has no such version yet."""

    def __init__(self, order_id: str, version: int, latest: int) -> None:
        super().__init__(order_id)
        self.message = f"order {order_id} has no version {version}; its latest is {latest}"
        self.version = version
        self.latest = latest


@dataclass(frozen=True, slots=True)
class OrdersPage:
    orders: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class EventsPage:
    order_id: str
    events: list[dict[str, Any]]
    next_cursor: str | None


class OrderQueries:
    def __init__(
        self,
        views: ViewStore,
        store: EventStore,
        runner: DeciderRunner[OrderCommand, Order | None],
        vault: Vault,
    ) -> None:
        """`vault` opens the personal data of the order for its owner."""
        self.views = views
        self.store = store
        self.runner = runner
        self.vault = vault

    def orders_of(self, customer_id: str, *, limit: int, cursor: str | None = None) -> OrdersPage:
        """The customer's orders, newest first, `limit` a page."""
        after = _list_position(cursor, customer_id) if cursor is not None else None
        page = self.views.page(ORDERS_BY_CUSTOMER, customer_id, limit=limit, after=after)
        orders = [{name: document.get(name) for name in LIST_ATTRIBUTES} for document in page.documents]
        next_cursor = encode_cursor("orders", page.next_position) if page.next_position else None
        return OrdersPage(orders, next_cursor)

    def order(self, order_id: str, customer_id: str, *, consistent: bool = False) -> dict[str, Any]:
        """The order's document with its version: from the read model, or (consistent) from the log."""
        _require_order_id(order_id)
        if consistent:
            aggregate = self.runner.load(order_id)
            document = order_document(_owned(aggregate.state, order_id, customer_id), aggregate.version)
            return for_owner(self.vault, document)
        row = self.views.get(order_id)
        if row is None or row.view.get("customer_id") != customer_id:
            raise OrderNotFoundError(order_id)
        return for_owner(self.vault, {**row.view, "version": row.version})

    def order_as_of(
        self, order_id: str, customer_id: str, *, version: int | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        """Time travel: the order rebuilt from the log up to `version`, or as it was at time `at`."""
        _require_order_id(order_id)
        past = state_at(order_decider, self.store, order_id, version=version, at=at)
        order = _owned(past.state, order_id, customer_id)
        if version is not None and past.version < version:
            raise VersionNotFoundError(order_id, version, past.version)
        return for_owner(self.vault, order_document(order, past.version))

    def events(self, order_id: str, customer_id: str, *, limit: int, cursor: str | None = None) -> EventsPage:
        """The order's events oldest first (the audit trail), `limit` a page."""
        _require_order_id(order_id)
        after, commit_after = _events_position(cursor, order_id) if cursor is not None else (0, 0)
        self._require_owner(order_id, customer_id)
        page = []
        for entry in entries(
            self.store, order_decider.stream_id(order_id), after=after, commit_after=commit_after
        ):
            page.append(entry)
            if len(page) > limit:
                break
        more, page = len(page) > limit, page[:limit]
        events = [
            {
                "version": entry.version,
                "event_id": entry.event.event_id,
                "type": entry.event.event_type,
                "schema_version": entry.event.schema_version,
                "recorded_at": entry.event.recorded_at,
                "data": entry.event.payload(),
                "correlation_id": entry.commit.correlation_id,
                "causation_id": entry.commit.causation_id,
            }
            for entry in page
        ]
        next_cursor = None
        if more:
            last = page[-1]
            # Where the next page starts reading: the commit holding the next event, not the stream's start.
            position = {"order_id": order_id, "after": last.version, "from": last.commit.version - 1}
            next_cursor = encode_cursor("events", position)
        return EventsPage(order_id, events, next_cursor)

    def _require_owner(self, order_id: str, customer_id: str) -> None:
        """The order's first event names its customer: one small read of the log, whatever page is asked."""
        for entry in entries(self.store, order_decider.stream_id(order_id), up_to=1):
            created = order_events.decode(entry.event)
            if isinstance(created, OrderCreated) and created.customer_id == customer_id:
                return
        raise OrderNotFoundError(order_id)


def _owned(order: Order | None, order_id: str, customer_id: str) -> Order:
    if order is None or order.customer_id != customer_id:
        raise OrderNotFoundError(order_id)
    return order


def _require_order_id(order_id: str) -> None:
    if not is_order_id(order_id):
        raise OrderNotFoundError(order_id)


def _version(value: object) -> int:
    """A version a cursor may carry: an int (JSON true/false are not), in the range versions have."""
    if type(value) is not int or not 0 <= value <= MAX_VERSION:
        raise InvalidCursorError("unexpected values")
    return value


def _list_position(token: str, customer_id: str) -> dict[str, str]:
    """The position inside a cursor of the customer's listing, after checking every field of it."""
    try:
        position = decode_cursor("orders", token)
        if set(position) != {"customer_id", "placed_at", "order_id"}:
            raise InvalidCursorError("unexpected fields")
        if not all(isinstance(value, str) for value in position.values()):
            raise InvalidCursorError("unexpected values")
        if position["customer_id"] != customer_id:
            raise InvalidCursorError("a cursor of another customer's listing")
        if not is_order_id(position["order_id"]):
            raise InvalidCursorError("not an order id")
        datetime.fromisoformat(position["placed_at"])
    # RecursionError: deeply nested JSON in a cursor (a cursor is at most 1 KiB, but never risk a 500).
    except (InvalidCursorError, ValueError, RecursionError) as exc:
        raise InvalidCursorError("is not a cursor this listing handed out; start again without one") from exc
    return position


def _events_position(token: str, order_id: str) -> tuple[int, int]:
    try:
        position = decode_cursor("events", token)
        if set(position) != {"order_id", "after", "from"} or position["order_id"] != order_id:
            raise InvalidCursorError("a cursor of another order's events")
        after, commit_after = _version(position["after"]), _version(position["from"])
        if commit_after >= after:
            raise InvalidCursorError("unexpected values")
    except (InvalidCursorError, RecursionError) as exc:
        raise InvalidCursorError("is not a cursor these events handed out; start again without one") from exc
    return after, commit_after
