"""Sales analytics' real handler on moto: CloudEvents read back from the order-events Kinesis stream in,
counters per day and per campaign out, each event counted once however often it is delivered."""

from __future__ import annotations

import base64
import json
from typing import Any

from eventcore.read.view_store import from_item
from tests.integration.read_side.conftest import BASKET
from tests.support.lambdas import sample_event
from tests.support.read_side import kinesis_record

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
