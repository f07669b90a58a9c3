"""The shipments read side's queries for warehouse staff: the shipments in one status, oldest first (the
queue of parcels to pick), and one shipment. Cursors are opaque to clients and checked here before use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eventcore.read.cursors import InvalidCursorError, decode_cursor, encode_cursor
from shipping.errors import ShipmentNotFoundError
from shipping.read_model import SHIPMENTS_BY_STATUS
from shipping.service import SHIPMENT_ID
from shipping.shipment import ShipmentStatus

if TYPE_CHECKING:
    from eventcore.read.view_store import ViewStore

# What staff see of a shipment: the parcel and where it goes, nothing else of the customer's order.
FIELDS = (
    "shipment_id",
    "order_id",
    "status",
    "lines",
    "destination_country",
    "carrier",
    "tracking_number",
    "status_since",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class ShipmentsPage:
    shipments: list[dict[str, Any]]
    next_cursor: str | None


class ShipmentQueries:
    def __init__(self, views: ViewStore) -> None:
        self.views = views

    def in_status(self, status: ShipmentStatus, *, limit: int, cursor: str | None = None) -> ShipmentsPage:
        after = _position(cursor, status) if cursor is not None else None
        page = self.views.page(SHIPMENTS_BY_STATUS, status.value, limit=limit, after=after, oldest_first=True)
        shipments = [shown_to_staff(document) for document in page.documents]
        next_cursor = encode_cursor("shipments", page.next_position) if page.next_position else None
        return ShipmentsPage(shipments, next_cursor)

    def shipment(self, shipment_id: str) -> dict[str, Any]:
        if SHIPMENT_ID.fullmatch(shipment_id) is None:
            raise ShipmentNotFoundError(shipment_id)
        row = self.views.get(shipment_id)
        if row is None:
            raise ShipmentNotFoundError(shipment_id)
        return {**shown_to_staff({**row.view, "shipment_id": shipment_id}), "version": row.version}


def shown_to_staff(document: dict[str, Any]) -> dict[str, Any]:
    """A shipment's row or state as staff see it: never the customer, nor their sealed personal data."""
    return {name: document.get(name) for name in FIELDS}


def _position(token: str, status: ShipmentStatus) -> dict[str, str]:
    try:
        position = decode_cursor("shipments", token)
        if set(position) != {"status", "status_since", "shipment_id"}:
            raise InvalidCursorError("unexpected fields")
        if not all(isinstance(value, str) for value in position.values()):
            raise InvalidCursorError("unexpected values")
        if position["status"] != status.value:
            raise InvalidCursorError("a cursor of another status's listing")
        if SHIPMENT_ID.fullmatch(position["shipment_id"]) is None:
            raise InvalidCursorError("not a shipment id")
        datetime.fromisoformat(position["status_since"])
    except (InvalidCursorError, ValueError, RecursionError) as exc:
        raise InvalidCursorError("is not a cursor this listing handed out; start again without one") from exc
    return position
