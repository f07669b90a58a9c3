"""Stock and deadlines end to end, through the HTTP gateway of the end-to-end cloud: forty customers at once
for its ten kettles (no other module buys kettles), a receipt that lets new orders through, and a payment
provider that never answers (its order placed as the first end-to-end test starts), cancelled at the
cloud's fulfillment deadline. Every wait is a poll with a deadline."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests

from eventcore import DeciderRunner, DynamoDBEventStore
from eventcore.messaging.inbound import CommandMessage
from inventory import stock_decider
from tests.e2e.conftest import DEADLINE_SECONDS, UNANSWERED_SKU, place, stock
from tests.support.orders import order_body
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

KETTLE = order_body(("SKU-KET-001", 1))


def totals(levels: dict[str, Any]) -> tuple[int, int, int]:
    """On hand, reserved and available; checked to be the sums of the SKU's buckets."""
    for key in ("on_hand", "reserved", "available"):
        assert levels[key] == sum(bucket[key] for bucket in levels["by_bucket"]), levels
    return levels["on_hand"], levels["reserved"], levels["available"]


def final(
    cloud: LocalCloud, customer: str, order_id: str, timeout: float = DEADLINE_SECONDS + 60
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {cloud.token(customer)}"}

    def settled() -> dict[str, Any] | None:
        response = requests.get(f"{cloud.gateway_url}/orders/{order_id}", headers=headers, timeout=30)
        order = response.json() if response.status_code == 200 else None
        return order if order and order["status"] in ("confirmed", "cancelled") else None

    return wait_until(settled, timeout=timeout, interval=0.2)


def test_forty_customers_for_ten_kettles_leave_ten_confirmed_and_thirty_out_of_stock(
    cloud: LocalCloud,
) -> None:
    # GIVEN the kettle's configured stock, untouched by the modules before this one (no other orders it)
    assert totals(stock(cloud, "SKU-KET-001")) == (10, 0, 10)
    customers = [f"kettle-customer-{i:02d}" for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        orders = list(pool.map(lambda customer: (customer, place(cloud, customer, KETTLE)), customers))
    outcomes = [final(cloud, customer, order_id) for customer, order_id in orders]
    confirmed = [o for o in outcomes if o["status"] == "confirmed"]
    cancelled = [o for o in outcomes if o["status"] == "cancelled"]
    assert (len(confirmed), len(cancelled)) == (10, 30)
    assert {o["cancellation_reason"] for o in cancelled} == {"out_of_stock"}
    # the ten are accounted for: held for the confirmed orders, none available
    wait_until(lambda: stock(cloud, "SKU-KET-001")["reserved"] == 10, timeout=30)
    assert totals(stock(cloud, "SKU-KET-001")) == (10, 10, 0)

    # WHEN the warehouse receives five more, THEN a new order gets one
    staff = {
        "Authorization": f"Bearer {cloud.token('wh-1', scopes=['orders/warehouse'])}",
        "Idempotency-Key": "delivery-kettles-1",
    }
    receipt = requests.post(
        f"{cloud.gateway_url}/inventory/SKU-KET-001/receipts", json={"quantity": 5}, headers=staff, timeout=30
    )
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["available"] == 5
    assert final(cloud, "kettle-latecomer", place(cloud, "kettle-latecomer", KETTLE))["status"] == "confirmed"
    assert stock(cloud, "SKU-KET-001")["available"] == 4


def test_a_provider_that_never_answers_cancels_the_order_at_its_deadline_and_releases_its_stock(
    cloud: LocalCloud, unanswered: dict[str, Any]
) -> None:
    # placed when the first end-to-end test started (conftest.py); the deadline plus a bounded wait
    order = final(cloud, "customer-card-unresponsive", unanswered["order_id"], timeout=DEADLINE_SECONDS + 60)
    assert (order["status"], order["cancellation_reason"]) == ("cancelled", "payment_timeout")
    released = unanswered["available_before"]
    wait_until(lambda: stock(cloud, UNANSWERED_SKU)["available"] == released, timeout=30)


def test_a_receipt_retried_after_150_reservations_of_its_sku_answers_the_original_and_counts_once(
    cloud: LocalCloud,
) -> None:
    # GIVEN a receipt of mugs under an Idempotency-Key (other modules order mugs too: counts are of its own)
    staff = {
        "Authorization": f"Bearer {cloud.token('wh-2', scopes=['orders/warehouse'])}",
        "Idempotency-Key": "delivery-note-mugs-7",
    }
    url = f"{cloud.gateway_url}/inventory/SKU-MUG-001/receipts"
    first = requests.post(url, json={"quantity": 200}, headers=staff, timeout=30)
    assert first.status_code == 201, first.text
    on_hand = first.json()["on_hand"]
    # ... then 150 orders' reservations of the SKU, queued as the process manager queues them: more commands
    # than the idempotency window keeps, so the retry below is recognised by the log's command index
    sqs = cloud.client("sqs")
    queue = cloud.physical_id("InventoryCommandsQueue")
    for index in range(150):
        reserve = CommandMessage(
            command_type="ReserveStock",
            command_id=f"ReserveStock:e2e-mugs-{index}:SKU-MUG-001",
            payload={
                "sku": "SKU-MUG-001",
                "order_id": f"e2e-mug-order-{index:03d}",
                "quantity": 1,
                "expires_at": "2099-01-01T00:00:00+00:00",
            },
        )
        sqs.send_message(QueueUrl=queue, **reserve.sqs_entry(group_id=f"e2e-mug-order-{index:03d}"))
    ours = {f"e2e-mug-order-{index:03d}" for index in range(150)}
    log = DeciderRunner(
        stock_decider, DynamoDBEventStore(cloud.physical_id("InventoryEventLog"), cloud.client("dynamodb"))
    )

    def held() -> set[str]:
        state = log.load("SKU-MUG-001").state
        return set(state.reservations) if state is not None else set()

    wait_until(lambda: ours <= held(), timeout=90)

    # WHEN the receipt is sent again with its key
    again = requests.post(url, json={"quantity": 200}, headers=staff, timeout=30)

    # THEN it answers as the first did, says it is a replay, and the 200 units were counted once
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["on_hand"] == on_hand
    assert stock(cloud, "SKU-MUG-001")["on_hand"] == on_hand
    receipts = [
        e for c in log.store.read("Stock-SKU-MUG-001") for e in c.events if e.event_type == "StockReceived"
    ]
    assert len(receipts) == 1
