"""The inventory domain: stock per SKU (the Stock decider), its configuration, and the service that applies
the order-fulfillment process manager's reservations and the warehouse staff's receipts. Knows the other
contexts only through the commands they queue."""

from inventory.commands import CommitStock, OpenStock, ReceiveStock, ReleaseStock, ReserveStock, StockCommand
from inventory.config import StockConfigError, load_initial_stock, parse_initial_stock
from inventory.errors import ReservationMismatchError, StockError, StockNotOpenedError, UnknownSkuError
from inventory.events import (
    StockCommitted,
    StockEvent,
    StockOpened,
    StockReceived,
    StockReleased,
    StockReservationRefused,
    StockReserved,
    stock_events,
)
from inventory.service import InventoryService, StockAnswer, StockLevels
from inventory.stock import Stock, decide, evolve, stock_decider

__all__ = [
    "CommitStock",
    "InventoryService",
    "OpenStock",
    "ReceiveStock",
    "ReleaseStock",
    "ReservationMismatchError",
    "ReserveStock",
    "Stock",
    "StockAnswer",
    "StockCommand",
    "StockCommitted",
    "StockConfigError",
    "StockError",
    "StockEvent",
    "StockLevels",
    "StockNotOpenedError",
    "StockOpened",
    "StockReceived",
    "StockReleased",
    "StockReservationRefused",
    "StockReserved",
    "UnknownSkuError",
    "decide",
    "evolve",
    "load_initial_stock",
    "parse_initial_stock",
    "stock_decider",
    "stock_events",
]
