"""The inventory context's composition root: its service built from a function's environment, once per
container (the event log, and the stock configuration INITIAL_STOCK_PARAMETER names)."""

from __future__ import annotations

from eventcore.lambdas.wiring import Wiring
from inventory.config import load_initial_stock
from inventory.service import InventoryService
from inventory.stock import stock_decider


class InventoryWiring(Wiring):
    def inventory_service(self) -> InventoryService:
        return InventoryService(self.runner(stock_decider), load_initial_stock)
