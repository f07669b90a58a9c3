"""The inventory context's composition root: its service built from a function's environment, once per
container (the event log, and the stock configuration INITIAL_STOCK_PARAMETER names), and the sender that
puts queued commands in their bucket's message group (INVENTORY_BUCKETS_QUEUE_URL)."""

from __future__ import annotations

from eventcore.lambdas.wiring import Wiring
from eventcore.messaging.command_sender import SqsCommandSender
from inventory.config import load_initial_stock
from inventory.service import InventoryService
from inventory.stock import stock_decider

BUCKETS = "inventory-buckets"


class InventoryWiring(Wiring):
    def inventory_service(self) -> InventoryService:
        return InventoryService(self.runner(stock_decider), load_initial_stock)

    def bucket_sender(self) -> SqsCommandSender:
        return SqsCommandSender(self.sqs, {BUCKETS: self.env["INVENTORY_BUCKETS_QUEUE_URL"]})
