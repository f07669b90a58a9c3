"""A flash sale through the local cloud's gateway, at the size the shared cloud answers within its deadline
and the suite's time: 30 customers at once for a SKU whose 20 units are kept in 4 buckets (the stock
configuration opens SKU-DROP-001 so; no other module buys it). Exactly 20 orders are confirmed and 10
cancelled out of stock, whichever bucket each order's reservation was decided in (a bucket short of units
takes them from its siblings), and the SKU's totals are the sums of its buckets. The sale at the issue's
size (300 customers, 200 units) is tests/scale/test_flash_sale_at_scale.py (`make test-scale`). Every wait
is a poll with a deadline."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import place, stock
from tests.e2e.test_stock_and_deadlines import final, totals
from tests.support.orders import order_body
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

SKU = "SKU-DROP-001"


def flash_sale(cloud: LocalCloud, customers: int, units: int, prefix: str) -> dict[str, Any]:
    """`customers` order one unit each at once; returns the SKU's stock once every order has settled."""
    names = [f"{prefix}-{i:03d}" for i in range(customers)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        orders = list(pool.map(lambda name: (name, place(cloud, name, order_body((SKU, 1)))), names))
    outcomes = [final(cloud, name, order_id) for name, order_id in orders]
    confirmed = [o for o in outcomes if o["status"] == "confirmed"]
    cancelled = [o for o in outcomes if o["status"] == "cancelled"]
    reasons = Counter(o.get("cancellation_reason") for o in cancelled)
    assert (len(confirmed), len(cancelled)) == (units, customers - units), reasons
    assert set(reasons) == {"out_of_stock"}
    # the units are held for the confirmed orders, in whichever bucket: the totals add up
    wait_until(lambda: stock(cloud, SKU)["reserved"] == units, timeout=60)
    return stock(cloud, SKU)


def test_thirty_customers_for_twenty_units_in_four_buckets(cloud: LocalCloud) -> None:
    before = stock(cloud, SKU)
    assert totals(before) == (20, 0, 20)
    assert (before["buckets"], [b["available"] for b in before["by_bucket"]]) == (4, [5, 5, 5, 5])
    after = flash_sale(cloud, customers=30, units=20, prefix="drop-customer")
    assert totals(after) == (20, 20, 0)
    assert [bucket["bucket"] for bucket in after["by_bucket"]] == [0, 1, 2, 3]
