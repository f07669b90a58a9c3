"""Returns received at the same moment in two containers (moto, the real conditional writes): each refund is
decided on the order as it is after the other, so together they never refund more than the capture, and a
whole order returned refunds exactly its total, whichever receipt wins the write."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from eventcore import DeciderRunner, DynamoDBEventStore, fingerprint
from orders.commands import (
    ConfirmOrder,
    DeliverOrder,
    PlaceOrder,
    ReceiveReturn,
    RecordCapture,
    RequestReturn,
    ShipOrder,
)
from orders.events import ReceivedLine, ReturnLine
from orders.order import order_decider
from orders.pricing import OrderLine, PricedOrder
from orders.refunds import refunded_for

ORDER = "5b0e4a3e-8a31-4a0c-9d4e-6f1e0c1f0a01"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LINES = (
    OrderLine(sku="SKU-TEA-001", name="Tea", quantity=3, unit_price=1250, line_total=3750),
    OrderLine(sku="SKU-MUG-001", name="Mug", quantity=1, unit_price=1799, line_total=1799),
)
PRICED = PricedOrder(
    lines=LINES, currency="EUR", subtotal=5549, discount=554, campaign_code="X", shipping=495, total=5490
)
RETURNS = {"r-1": (("SKU-TEA-001", 2),), "r-2": (("SKU-TEA-001", 1), ("SKU-MUG-001", 1))}


def run(runner: DeciderRunner, command, command_id: str):
    return runner.handle(ORDER, command, command_id=command_id, fingerprint=fingerprint({"id": command_id}))


@pytest.fixture
def containers(dynamodb, orders_log) -> tuple[DeciderRunner, DeciderRunner]:
    store = DynamoDBEventStore(orders_log, dynamodb)
    first, second = DeciderRunner(order_decider, store), DeciderRunner(order_decider, store)
    at = T0
    for index, command in enumerate(
        [
            PlaceOrder(order_id=ORDER, customer_id="c-1", priced=PRICED, destination_country="NL", at=at),
            ConfirmOrder(order_id=ORDER, payment_id="p-1", at=at),
            ShipOrder(order_id=ORDER, carrier="PostNL", tracking_number="TR-1", at=at),
            RecordCapture(order_id=ORDER, amount=PRICED.total, at=at),
            DeliverOrder(order_id=ORDER, at=at),
            *(
                RequestReturn(
                    order_id=ORDER,
                    return_id=return_id,
                    requested_by="c-1",
                    lines=tuple(ReturnLine(sku=sku, quantity=q) for sku, q in lines),
                    window_seconds=86_400,
                    deadline_at=at + timedelta(days=14),
                    at=at,
                )
                for return_id, lines in RETURNS.items()
            ),
        ]
    ):
        run(first, command, f"setup-{index}")
    second.load(ORDER)  # both containers warm, with the same image
    return first, second


def receive(return_id: str) -> ReceiveReturn:
    lines = tuple(ReceivedLine(sku=sku, quantity=q, condition="sellable") for sku, q in RETURNS[return_id])
    return ReceiveReturn(order_id=ORDER, return_id=return_id, lines=lines, at=T0)


def test_a_receipt_decided_on_a_stale_order_is_decided_again_on_the_new_one(containers):
    first, second = containers
    run(first, receive("r-1"), "receipt-1")
    # the second container's image predates the first receipt: its write loses, it catches up, decides again
    order = run(second, receive("r-2"), "receipt-2").state
    refunds = {r.return_id: r.refund for r in order.returns}
    everything = {"SKU-TEA-001": 3, "SKU-MUG-001": 1}
    assert refunds["r-1"] == refunded_for(LINES, 554, 495, {"SKU-TEA-001": 2})
    assert sum(refunds.values()) == refunded_for(LINES, 554, 495, everything) == PRICED.total


@pytest.mark.parametrize("attempt", range(3))
def test_receipts_at_the_same_moment_add_up_to_the_capture_whichever_wins(containers, attempt):
    first, second = containers
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [
            pool.submit(run, first, receive("r-1"), "receipt-1"),
            pool.submit(run, second, receive("r-2"), "receipt-2"),
        ]
        for future in done:
            future.result()
    order = first.load(ORDER).state
    assert [r.status.value for r in order.returns] == ["received", "received"]
    assert sum(r.refund for r in order.returns) == PRICED.total  # never more than captured; all of it back
