"""Sales analytics' real handler on moto: CloudEvents read back from the order-events Kinesis stream in,
counters per day and per campaign out, each event counted once however often it is delivered, and each
counter item written once per batch (the requests counted with a botocore event hook)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import pytest

from eventcore.messaging.cloudevents import commit_to_cloudevents, encode
from eventcore.read.counters import MARKER_PREFIX
from eventcore.read.view_store import from_item
from orders import OrderCancelled
from tests.integration.read_side.conftest import BASKET
from tests.support.lambdas import sample_event
from tests.support.read_side import T0, commit_of, created, kinesis_record, sequence_number

PLAIN: dict[str, Any] = {
    "lines": [{"sku": "SKU-POT-001", "quantity": 1}],
    "shipping_address": {
        **BASKET["shipping_address"],
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    },
}  # 54.00 + 6.95 shipping


def counters(read_side, table: str = "sales-analytics") -> dict[tuple[str, str], dict[str, Any]]:
    items = read_side.dynamodb.scan(TableName=table)["Items"]
    rows = {(row["pk"], row["sk"]): row for row in map(from_item, items)}
    return {
        key: {k: v for k, v in row.items() if k not in ("pk", "sk")}
        for key, row in rows.items()
        if not key[0].startswith("event#")
    }


def all_records(read_side) -> list[dict[str, Any]]:
    return [record for records in read_side.published().values() for record in records]


class TestSalesAnalytics:
    def test_counts_orders_revenue_and_discounts_per_day_and_campaign_once(self, read_side):
        # GIVEN two orders with WELCOME10, one without a campaign, and a cancellation, all published
        welcome = [read_side.place(body=BASKET) for _ in range(2)]
        plain = read_side.place(body=PLAIN)
        read_side.cancel(welcome[0]["order_id"])
        read_side.publish()
        records = all_records(read_side)
        # WHEN the records are delivered, then all delivered again
        assert read_side.count_sales(records) == {"batchItemFailures": []}
        assert read_side.count_sales(records) == {"batchItemFailures": []}
        # THEN every event counted exactly once
        day = welcome[0]["placed_at"][:10]
        revenue = sum(o["total"] for o in [*welcome, plain])
        discounts = sum(o["discount"] for o in [*welcome, plain])
        rows = counters(read_side)
        assert rows[(f"day#{day}", "total#EUR")] == {
            "orders": 3,
            "revenue": revenue,
            "discounts": discounts,
            "subtotal": sum(o["subtotal"] for o in [*welcome, plain]),
            "shipping": sum(o["shipping"] for o in [*welcome, plain]),
            "net_revenue": revenue,  # nothing refunded
        }
        assert rows[(f"day#{day}", "campaign#WELCOME10#EUR")]["orders"] == 2
        assert rows[(f"day#{day}", "campaign#WELCOME10#EUR")]["discounts"] == discounts
        assert rows[(f"day#{day}", "campaign#none#EUR")]["revenue"] == plain["total"]
        assert rows[("campaign#WELCOME10", "total#EUR")]["orders"] == 2
        assert rows[(f"day#{day}", "cancellations#customer_request")] == {"cancellations": 1}

    def test_a_record_that_is_not_a_cloudevent_is_reported_and_the_rest_are_counted(self, read_side):
        read_side.place()
        read_side.publish()
        good = all_records(read_side)
        poison = kinesis_record(
            b"\x00not json", "49656770263419215963211786713498723496990000000000000000", "x"
        )
        response = read_side.count_sales([poison, *good])
        assert response == {"batchItemFailures": [{"itemIdentifier": poison["kinesis"]["sequenceNumber"]}]}
        assert (
            sum(
                row.get("orders", 0)
                for (pk, sk), row in counters(read_side).items()
                if sk == "total#EUR" and pk.startswith("day#")
            )
            == 1
        )

    def test_an_order_event_type_this_code_does_not_know_is_reported_not_skipped(self, read_side):
        read_side.place()
        read_side.publish()
        (good,) = all_records(read_side)
        document = json.loads(base64.b64decode(good["kinesis"]["data"]))
        unknown = kinesis_record(
            {**document, "id": "another-id", "type": "com.example.orders.OrderRefunded.v1"},
            "49656770263419215963211786713498723496990000000000000001",
            good["kinesis"]["partitionKey"],
        )
        response = read_side.count_sales([good, unknown])
        assert response == {"batchItemFailures": [{"itemIdentifier": unknown["kinesis"]["sequenceNumber"]}]}

    def test_a_wholly_failed_batch_is_reported_per_record_not_raised(self, read_side):
        # As in the other Kinesis consumers: the checkpoint stays on the first failed record.
        poison = [kinesis_record(b"garbage", sequence, "x") for sequence in ("1", "2")]
        assert read_side.count_sales(poison) == {
            "batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]
        }

    def test_revenue_is_gross_bookings_a_cancellation_does_not_subtract_it(self, read_side):
        order = read_side.place(body=PLAIN)
        read_side.cancel(order["order_id"])
        read_side.publish()
        assert read_side.count_sales(all_records(read_side)) == {"batchItemFailures": []}
        rows = counters(read_side)
        assert rows[(f"day#{order['placed_at'][:10]}", "total#EUR")]["revenue"] == order["total"]

    def test_the_samples_count_one_order_and_one_cancellation(self, read_side):
        for name in (
            "kinesis_order_created.json",
            "kinesis_order_created_redelivered.json",
            "kinesis_order_cancelled.json",
        ):
            assert read_side.analytics.lambda_handler(sample_event(name), read_side.context) == {
                "batchItemFailures": []
            }
        rows = counters(read_side)
        assert rows[("day#2026-11-26", "total#EUR")]["orders"] == 2  # the created sample's order, and B's
        assert rows[("day#2026-11-26", "cancellations#customer_request")] == {"cancellations": 1}


# -- batches -------------------------------------------------------------------------------------------------


def published_orders(count: int, *, cancelled_every: int = 0) -> list[dict[str, Any]]:
    """`count` orders' OrderCreated (campaigns WELCOME10 and none, alternately) and every `cancelled_every`th
    one's OrderCancelled, as the order-events stream delivers them: one Kinesis record per CloudEvent."""
    records: list[dict[str, Any]] = []
    for n in range(count):
        order_id = f"order-{n:04d}"
        events: list[Any] = [created(order_id, campaign_code="WELCOME10" if n % 2 else None, total=1000 + n)]
        if cancelled_every and n % cancelled_every == 0:
            events.append(OrderCancelled(order_id=order_id, reason="customer_request", cancelled_at=T0))
        for document in commit_to_cloudevents(
            commit_of(order_id, 1, events),
            source="urn:orders-microsystem:orders",
            type_prefix="com.example.orders",
        ):
            records.append(kinesis_record(encode(document), sequence_number(len(records)), order_id))
    return records


class TransactionCounter:
    """Every TransactWriteItems the analytics function sends: how often each counter item is in one."""

    def __init__(self, client: Any) -> None:
        self.transactions: list[list[tuple[str, str]]] = []
        client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", self._count)

    def _count(self, params: dict[str, Any], **_: Any) -> None:
        keys = [
            (action["Update"]["Key"]["pk"]["S"], action["Update"]["Key"]["sk"]["S"])
            for action in params["TransactItems"]
            if "Update" in action
        ]
        self.transactions.append(keys)

    def writes_per_counter_item(self) -> Counter[tuple[str, str]]:
        return Counter(key for keys in self.transactions for key in keys)


def expected_counters(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The counters every event counted once produces: the orders' totals by day and campaign."""
    orders: dict[str, dict[str, Any]] = {}
    cancellations = 0
    for record in records:
        document = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if document["type"].startswith("com.example.orders.OrderCreated"):
            orders[document["id"]] = document["data"]
        else:
            cancellations += 1
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for data in orders.values():
        campaign = data["campaign_code"] or "none"
        for key in (
            ("day#2026-11-26", "total#EUR"),
            ("day#2026-11-26", f"campaign#{campaign}#EUR"),
            (f"campaign#{campaign}", "total#EUR"),
        ):
            row = rows.setdefault(
                key,
                {"orders": 0, "revenue": 0, "discounts": 0, "subtotal": 0, "shipping": 0, "net_revenue": 0},
            )
            row["orders"] += 1
            row["revenue"] += data["total"]
            row["discounts"] += data["discount"]
            row["subtotal"] += data["subtotal"]
            row["shipping"] += data["shipping"]
            row["net_revenue"] += data["total"]
    if cancellations:
        rows[("day#2026-11-26", "cancellations#customer_request")] = {"cancellations": cancellations}
    return rows


class TestCountingInBatches:
    @pytest.fixture
    def transactions(self, read_side) -> TransactionCounter:
        return TransactionCounter(read_side.analytics.counters._client)

    def test_a_batch_writes_each_counter_item_once(self, read_side, transactions):
        # GIVEN a batch of 40 orders over two campaigns, 10 of them cancelled (50 records, 6 counter items)
        records = published_orders(40, cancelled_every=4)
        # WHEN it is delivered
        assert read_side.count_sales(records) == {"batchItemFailures": []}
        # THEN one transaction, every counter item in it once, and the counters exact
        assert len(transactions.transactions) == 1
        assert set(transactions.writes_per_counter_item().values()) == {1}
        assert len(transactions.writes_per_counter_item()) == 6
        assert counters(read_side) == expected_counters(records)

    def test_a_batch_delivered_again_whole_adds_nothing(self, read_side, transactions):
        records = published_orders(30, cancelled_every=3)
        read_side.count_sales(records)
        before = counters(read_side)
        assert read_side.count_sales(records) == {"batchItemFailures": []}
        assert counters(read_side) == before == expected_counters(records)
        # the second delivery's one attempt was cancelled on its markers: nothing written
        assert len(transactions.transactions) == 2

    def test_a_batch_delivered_again_in_part_counts_only_what_it_had_not(self, read_side, transactions):
        # GIVEN the first 25 records counted: the mapping checkpointed there and the function then failed
        records = published_orders(40, cancelled_every=5)
        read_side.count_sales(records[:25])
        # WHEN it delivers from record 10 on (a part again, and the rest), then bisects and redelivers
        assert read_side.count_sales(records[10:]) == {"batchItemFailures": []}
        half = len(records) // 2
        for part in (records[:half], records[half:], records):
            assert read_side.count_sales(part) == {"batchItemFailures": []}
        # THEN every event counted once, and no transaction wrote a counter item twice
        assert counters(read_side) == expected_counters(records)
        assert all(len(keys) == len(set(keys)) for keys in transactions.transactions)

    def test_a_batch_larger_than_one_transaction_is_split_and_still_exact(self, read_side, transactions):
        # GIVEN 120 orders: 120 markers and 5 counter items are more than TransactWriteItems' 100 actions
        records = published_orders(120)
        assert read_side.count_sales(records) == {"batchItemFailures": []}
        # THEN two transactions, each within the limit, each writing a counter item at most once
        assert len(transactions.transactions) == 2
        assert all(len(keys) == len(set(keys)) for keys in transactions.transactions)
        assert counters(read_side) == expected_counters(records)
        markers = [
            row
            for row in read_side.dynamodb.scan(TableName="sales-analytics")["Items"]
            if row["pk"]["S"].startswith(MARKER_PREFIX)
        ]
        assert len(markers) == 120
