"""The inventory service on the in-memory store: opening balances from configuration, queued commands
applied once, and staff receipts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventcore import DeciderRunner, InMemoryEventStore
from eventcore.messaging.inbound import CommandMessage, MalformedMessageError
from inventory import InventoryService, UnknownSkuError, stock_decider

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DEADLINE = (NOW + timedelta(minutes=5)).isoformat()


@pytest.fixture
def service() -> InventoryService:
    return InventoryService(
        DeciderRunner(stock_decider, InMemoryEventStore()),
        lambda: {"SKU-KET-001": 10, "SKU-TEA-001": 100},
        clock=lambda: NOW,
    )


def reserve(
    order_id: str, quantity: int = 1, sku: str = "SKU-KET-001", command_id: str | None = None
) -> CommandMessage:
    return CommandMessage(
        command_type="ReserveStock",
        command_id=command_id or f"ReserveStock:{order_id}",
        payload={"sku": sku, "order_id": order_id, "quantity": quantity, "expires_at": DEADLINE},
    )


def release(order_id: str, sku: str = "SKU-KET-001") -> CommandMessage:
    return CommandMessage(
        command_type="ReleaseStock",
        command_id=f"ReleaseStock:{order_id}",
        payload={"sku": sku, "order_id": order_id, "reason": "order cancelled"},
    )


class TestQueuedCommands:
    def test_the_first_command_opens_the_sku_with_its_configured_balance(self, service):
        answer = service.apply_queued(reserve("o-1", 3))
        assert answer.recorded == ("StockReserved",)
        assert service.levels("SKU-KET-001").available == 7
        assert service.levels("SKU-KET-001").version == 2  # opened, then reserved

    def test_a_redelivered_command_is_applied_once(self, service):
        service.apply_queued(reserve("o-1", 3))
        again = service.apply_queued(reserve("o-1", 3))
        assert (again.replayed, again.recorded) == (True, ())
        assert service.levels("SKU-KET-001").reserved == 3

    def test_eleven_orders_for_ten_kettles_refuse_the_eleventh(self, service):
        answers = [service.apply_queued(reserve(f"o-{i}")) for i in range(11)]
        assert [a.recorded for a in answers].count(("StockReserved",)) == 10
        assert answers[-1].recorded == ("StockReservationRefused",)
        assert service.apply_queued(release("o-0")).recorded == ("StockReleased",)
        assert service.levels("SKU-KET-001").available == 1

    def test_an_unreadable_or_unknown_command_is_refused(self, service):
        with pytest.raises(MalformedMessageError, match="quantity"):
            service.apply_queued(reserve("o-1", 0))
        with pytest.raises(MalformedMessageError, match="RestockEverything"):
            service.apply_queued(CommandMessage(command_type="RestockEverything", command_id="c", payload={}))

    def test_a_sku_the_warehouse_does_not_keep_is_refused(self, service):
        with pytest.raises(UnknownSkuError):
            service.apply_queued(reserve("o-1", sku="SKU-NOPE-001"))


class TestReceipts:
    def test_a_receipt_is_recorded_once_per_idempotency_key(self, service):
        service.receive("SKU-KET-001", 5, idempotency_key="delivery-1", correlation_id=None)
        again = service.receive("SKU-KET-001", 5, idempotency_key="delivery-1", correlation_id=None)
        assert again.replayed
        assert service.levels("SKU-KET-001").on_hand == 15

    def test_an_unknown_or_malformed_sku_is_refused_before_anything_is_read(self, service):
        for sku in ("SKU-NOPE-001", "x" * 3000, "sku with spaces"):
            with pytest.raises(UnknownSkuError):
                service.receive(sku, 1, idempotency_key=None, correlation_id=None)
            with pytest.raises(UnknownSkuError):
                service.levels(sku)

    def test_levels_of_an_untouched_sku_are_its_opening_balance(self, service):
        levels = service.levels("SKU-TEA-001")
        assert (levels.on_hand, levels.reserved, levels.available, levels.version) == (100, 0, 100, 0)
