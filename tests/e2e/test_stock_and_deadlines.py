"""Stock and deadlines end to end, through the HTTP gateway of the end-to-end cloud: forty customers at once
for its ten kettles (no other module buys kettles), a receipt that lets new orders through, and a payment
provider that never answers (its order placed as the first end-to-end test starts), cancelled at the
cloud's fulfilment deadline. Every wait is a poll with a deadline."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.e2e.conftest import DEADLINE_SECONDS, UNANSWERED_SKU, place, stock
from tests.support.orders import order_body
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

KETTLE = order_body(("SKU-KET-001", 1))


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
    assert stock(cloud, "SKU-KET-001") == {
        "sku": "SKU-KET-001",
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
    }
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
    assert stock(cloud, "SKU-KET-001") == {
        "sku": "SKU-KET-001",
        "on_hand": 10,
        "reserved": 10,
        "available": 0,
    }

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
