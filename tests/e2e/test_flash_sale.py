"""A flash sale through the local cloud's gateway: 300 customers at once for a SKU whose 200 units are kept
in 4 buckets (the stock configuration opens SKU-DROP-001 so; no other module buys it). Exactly 200 orders
are confirmed and 100 cancelled out of stock, whichever bucket each order's reservation was decided in,
and the SKU's totals are the sums of its buckets. Every wait is a poll with a deadline."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import place, stock
from tests.e2e.test_stock_and_deadlines import final, totals
from tests.support.orders import order_body
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

SKU = "SKU-DROP-001"
ONE = order_body((SKU, 1))


def test_three_hundred_customers_for_two_hundred_units_in_four_buckets(cloud: LocalCloud) -> None:
    # GIVEN the SKU's configured stock: 200 units spread over 4 buckets at its opening
    before = stock(cloud, SKU)
    assert totals(before) == (200, 0, 200)
    assert before["buckets"] == 4
    # WHEN 300 customers order one each at once
    customers = [f"drop-customer-{i:03d}" for i in range(300)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        orders = list(pool.map(lambda customer: (customer, place(cloud, customer, ONE)), customers))
    outcomes = [final(cloud, customer, order_id) for customer, order_id in orders]
    # THEN exactly 200 are confirmed and 100 cancelled out of stock
    confirmed = [o for o in outcomes if o["status"] == "confirmed"]
    cancelled = [o for o in outcomes if o["status"] == "cancelled"]
    assert (len(confirmed), len(cancelled)) == (200, 100)
    assert {o["cancellation_reason"] for o in cancelled} == {"out_of_stock"}
    # ... and the SKU's totals add up: the 200 held for the confirmed orders, in whichever bucket
    wait_until(lambda: stock(cloud, SKU)["reserved"] == 200, timeout=60)
    after = stock(cloud, SKU)
    assert totals(after) == (200, 200, 0)
    assert [bucket["bucket"] for bucket in after["by_bucket"]] == [0, 1, 2, 3]
