"""The archive end to end, on the shared local cloud: orders placed, paid, declined, cancelled, timed out,
out of stock, shipped and delivered; their facts delivered by the local cloud's Firehose to the archive
bucket as on AWS (gzipped JSON lines under events/context=/fact=/day=); then the archive holds every
published event exactly once by event id (a re-published batch shows as duplicates in the raw files, never
in a query), `python -m ops mine` answers what the read models and SalesAnalytics hold, a new generation of
OrdersView built from the archive equals the live one, and an erasure leaves the archived address
unreadable.

Other modules' orders share the cloud (and the archive): comparisons with the aggregate counters are polled
until the two agree, since a saga of another module may still move meanwhile."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import requests

from eventcore.personal_data import PersonalDataErasedError, PersonalDataVault, SealedData
from ops.cli import main
from shipping import shipment_id_for
from tests.e2e.conftest import UNANSWERED_SKU, place
from tests.support.orders import order_body
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from pathlib import Path

    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

SETTLE = 120.0
RUN = uuid.uuid4().hex[:8]
SHOPPER = f"customer-archive-{RUN}"
DECLINED = "customer-card-declined"
SCARCE = ("SKU-KET-001", 11)  # ten kettles in stock at most when this module runs: refused, out_of_stock


def _headers(cloud: LocalCloud, subject: str, scopes: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {cloud.token(subject, scopes=scopes)}"}


def _order(cloud: LocalCloud, customer: str, order_id: str, *statuses: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        response = requests.get(
            f"{cloud.gateway_url}/orders/{order_id}", headers=_headers(cloud, customer), timeout=30
        )
        order = response.json() if response.status_code == 200 else None
        return order if order and order["status"] in statuses else None

    return dict(wait_until(reached, timeout=SETTLE, interval=0.25))


def _staff(cloud: LocalCloud, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    headers = _headers(cloud, "wh-archive", ["orders/warehouse"])
    if body is None:
        return requests.get(f"{cloud.gateway_url}{path}", headers=headers, timeout=30)
    return requests.post(f"{cloud.gateway_url}{path}", json=body, headers=headers, timeout=30)


def _dispatch(cloud: LocalCloud, order_id: str) -> None:
    shipment = shipment_id_for(order_id)
    wait_until(
        lambda: _staff(cloud, f"/shipments/{shipment}").json().get("status") == "ready_to_ship",
        timeout=SETTLE,
        interval=0.25,
    )
    answer = _staff(
        cloud, f"/shipments/{shipment}/dispatch", {"carrier": "PostNL", "tracking_number": f"3S{RUN.upper()}"}
    )
    assert answer.status_code == 200, answer.text


def _archive(cloud: LocalCloud, prefix: str = "events/") -> dict[str, list[dict[str, Any]]]:
    """Every archived record, by object key (decompressed, one CloudEvent a line)."""
    s3, bucket = cloud.client("s3"), cloud.physical_id("ArchiveBucket")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            found[item["Key"]] = [json.loads(line) for line in body.decode().splitlines()]
    return found


def _published(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    """Every CloudEvent on the four published streams, by id."""
    kinesis = cloud.client("kinesis")
    events = {}
    for logical_id in (
        "OrderEventsStream",
        "PaymentEventsStream",
        "InventoryEventsStream",
        "ShipmentEventsStream",
    ):
        name = cloud.physical_id(logical_id)
        for shard in kinesis.list_shards(StreamName=name)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                for record in page["Records"]:
                    document = json.loads(record["Data"])
                    events[document["id"]] = document
                iterator = page.get("NextShardIterator") if page["Records"] else None
    return events


def mine(cloud: LocalCloud, cache: Path, capsys: pytest.CaptureFixture[str], *arguments: str) -> Any:
    capsys.readouterr()
    where = ["--endpoint-url", cloud.endpoint_url, "--gateway-url", cloud.gateway_url]
    status = main([*where, "mine", *arguments, "--json", "--cache", str(cache)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture(scope="module")
def orders(cloud: LocalCloud, unanswered: dict[str, Any]) -> dict[str, str]:
    """One order per outcome, settled, and every published fact delivered to the archive."""
    placed = {
        "delivered": place(cloud, SHOPPER, order_body(("SKU-TEA-001", 2), campaign_code="WELCOME10")),
        "shipped": place(cloud, SHOPPER, order_body(("SKU-TEA-001", 2))),
        "cancelled": place(cloud, SHOPPER, order_body(("SKU-MUG-001", 1))),
        "declined": place(cloud, DECLINED, order_body(("SKU-MUG-001", 1))),
        "out_of_stock": place(cloud, SHOPPER, order_body(SCARCE)),
    }
    for name in ("delivered", "shipped", "cancelled"):
        _order(cloud, SHOPPER, placed[name], "confirmed")
    cancel = requests.post(
        f"{cloud.gateway_url}/orders/{placed['cancelled']}/cancel",
        headers=_headers(cloud, SHOPPER),
        timeout=30,
    )
    assert cancel.status_code == 200, cancel.text
    for name in ("delivered", "shipped"):
        _dispatch(cloud, placed[name])
        _order(cloud, SHOPPER, placed[name], "shipped")
    delivered = _staff(cloud, f"/shipments/{shipment_id_for(placed['delivered'])}/deliver", {})
    assert delivered.status_code == 200, delivered.text
    _order(cloud, SHOPPER, placed["delivered"], "delivered")
    assert (
        _order(cloud, DECLINED, placed["declined"], "cancelled")["cancellation_reason"] == "payment_declined"
    )
    assert (
        _order(cloud, SHOPPER, placed["out_of_stock"], "cancelled")["cancellation_reason"] == "out_of_stock"
    )
    _order(cloud, SHOPPER, placed["cancelled"], "cancelled")
    timed_out = _order(cloud, "customer-card-unresponsive", unanswered["order_id"], "cancelled")
    assert timed_out["cancellation_reason"] == "payment_timeout"
    placed["timed_out"] = unanswered["order_id"]
    cloud.wait_until_idle(timeout=SETTLE)
    cloud.flush_delivery_streams()
    return placed


def test_the_archive_holds_every_published_event_and_queries_count_each_once(
    cloud: LocalCloud, orders: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the orders' facts archived, and one batch of order facts published again (a publisher's retry)
    again = [event for event in _published(cloud).values() if event["subject"] == orders["delivered"]]
    kinesis = cloud.client("kinesis")
    for event in again:
        kinesis.put_record(
            StreamName=cloud.physical_id("OrderEventsStream"),
            Data=json.dumps(event).encode(),
            PartitionKey=event["subject"],
        )
    cloud.wait_until_idle(timeout=SETTLE)
    cloud.flush_delivery_streams()

    # WHEN the archive's files are read, and the archive is mined
    records = [record for lines in _archive(cloud).values() for record in lines]
    held = mine(cloud, tmp_path, capsys, "facts_by_context_and_type")

    # THEN every published event is archived, under its context, type and day, and nothing else is
    published = _published(cloud)
    assert {record["id"] for record in records} == set(published)
    counts = Counter(record["id"] for record in records)
    assert {event["id"] for event in again} <= {i for i, n in counts.items() if n > 1}
    # AND the raw files count the duplicates, the query's events count each id once
    assert sum(row["records"] for row in held) == len(records)
    assert sum(row["events"] for row in held) == len(published)
    ours = {orders["delivered"]: "delivered", orders["shipped"]: "shipped"}
    seen = {record["subject"]: record for record in records if record["subject"] in ours}
    assert set(seen) == set(ours)


def _sales(cloud: LocalCloud) -> dict[tuple[str, str], dict[str, int]]:
    dynamodb = cloud.client("dynamodb")
    found = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=cloud.physical_id("SalesAnalytics")):
        for item in page["Items"]:
            found[(item["pk"]["S"], item["sk"]["S"])] = {
                name: int(value["N"]) for name, value in item.items() if "N" in value
            }
    return found


def test_mined_sales_and_cancellations_equal_the_sales_analytics_counters(
    cloud: LocalCloud, orders: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def agree() -> bool:
        cloud.wait_until_idle(timeout=SETTLE)
        cloud.flush_delivery_streams()
        sales = _sales(cloud)
        mined = mine(cloud, tmp_path, capsys, "orders_by_day_and_campaign")
        by_campaign = {
            (f"day#{row['day']}", f"campaign#{row['campaign']}#{row['currency']}"): {
                "orders": row["orders"],
                "revenue": row["revenue"],
                "discounts": row["discounts"],
            }
            for row in mined
        }
        counted = {
            key: {name: value[name] for name in ("orders", "revenue", "discounts")}
            for key, value in sales.items()
            if key[0].startswith("day#") and key[1].startswith("campaign#")
        }
        cancellations = {
            (f"day#{row['day']}", f"cancellations#{row['reason']}"): row["cancellations"]
            for row in mine(cloud, tmp_path, capsys, "cancellations_by_day_and_reason")
        }
        counted_cancellations = {
            key: value["cancellations"] for key, value in sales.items() if key[1].startswith("cancellations#")
        }
        return by_campaign == counted and cancellations == counted_cancellations and bool(counted)

    # THEN per day and campaign, the archive's orders, revenue and discounts are SalesAnalytics' counters,
    # and its cancellations per day and reason too
    wait_until(agree, timeout=SETTLE, interval=1.0)


def _active_view(cloud: LocalCloud) -> str:
    registry = cloud.client("ssm").get_parameter(Name=cloud.physical_id("OrdersViewGenerations"))
    generations = json.loads(registry["Parameter"]["Value"])
    active = next(name for name, generation in generations.items() if generation["state"] == "active")
    return {"blue": "OrdersView", "green": "OrdersViewGreen"}[active]


def _view_rows(cloud: LocalCloud, logical_id: str) -> dict[str, dict[str, Any]]:
    dynamodb = cloud.client("dynamodb")
    rows = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=cloud.physical_id(logical_id)):
        for item in page["Items"]:
            if "order_id" in item and "S" in item["order_id"]:
                rows[item["order_id"]["S"]] = item
    return rows


def test_mined_statuses_outcomes_and_stockouts_equal_the_read_model(
    cloud: LocalCloud, orders: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def agree() -> bool:
        cloud.wait_until_idle(timeout=SETTLE)
        cloud.flush_delivery_streams()
        view = Counter(row["status"]["S"] for row in _view_rows(cloud, _active_view(cloud)).values())
        mined = {row["status"]: row["orders"] for row in mine(cloud, tmp_path, capsys, "orders_by_status")}
        return mined == dict(view)

    # THEN the orders by status replayed from the archive are the read model's
    wait_until(agree, timeout=SETTLE, interval=1.0)
    # AND today's outcomes include a timeout, the stock-out is named by its SKU, the decline counted
    today = datetime.now(UTC).date().isoformat()
    outcomes = mine(cloud, tmp_path, capsys, "order_outcomes_by_day")
    timed_out = [row for row in outcomes if row["outcome"] == "cancelled: payment_timeout"]
    assert timed_out
    assert all(row["timed_out"] for row in timed_out)
    assert sum(row["share"] for row in outcomes if row["day"] == today) == pytest.approx(1.0, abs=0.01)
    stockouts = {row["sku"]: row for row in mine(cloud, tmp_path, capsys, "stockouts_by_sku")}
    assert stockouts[SCARCE[0]]["orders_lost"] >= 1
    declines = {row["day"]: row for row in mine(cloud, tmp_path, capsys, "payment_declines_by_day")}
    assert declines[today]["declined"] >= 1
    times = {row["day"]: row for row in mine(cloud, tmp_path, capsys, "fulfillment_times_by_day")}
    assert times[today]["delivered"] >= 1
    assert times[today]["delivery_p50_s"] >= 0
    waits = mine(cloud, tmp_path, capsys, "payment_to_dispatch_by_week")
    assert sum(row["dispatched"] for row in waits) >= 2
    assert UNANSWERED_SKU  # its order is the timed-out one


def test_a_new_generation_built_from_the_archive_equals_the_live_read_model(
    cloud: LocalCloud, orders: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.rebuild import drop, run
    from ops.target import local_target

    target = local_target(cloud.endpoint_url, gateway_url=cloud.gateway_url)
    live = _active_view(cloud)
    other = "OrdersViewGreen" if live == "OrdersView" else "OrdersView"
    # WHEN OrdersView is rebuilt blue/green with the archive as its source
    built = run(target, "OrdersView", settle=3.0, progress=lambda message: None, from_archive=True)
    try:
        # THEN it is ready, and our orders' rows are the live generation's
        assert built.ready
        assert built.backfill.rows >= len(orders)
        fresh, current = _view_rows(cloud, other), _view_rows(cloud, live)
        for order_id in orders.values():
            assert fresh[order_id] == current[order_id], order_id
    finally:
        drop(target, "OrdersView", settle=3.0, progress=lambda message: None)


def _vault(cloud: LocalCloud) -> PersonalDataVault:
    return PersonalDataVault(
        cloud.physical_id("PersonalDataKeys"),
        cloud.client("dynamodb"),
        cloud.client("kms"),
        cloud.attribute("PersonalDataKey", "Arn"),
    )


def test_an_erasure_after_archiving_leaves_the_archived_address_unreadable(cloud: LocalCloud) -> None:
    # GIVEN an order whose address carries a marker, archived
    marker = f"zq{uuid.uuid4().hex[:12]}"
    customer = f"customer-archive-erased-{RUN}"
    address = {
        "name": f"Ada {marker}",
        "line1": f"{marker} street 1",
        "city": "Utrecht",
        "postal_code": "3511 AA",
        "country": "NL",
    }
    order_id = place(cloud, customer, order_body(("SKU-TEA-001", 1), shipping_address=address))
    _order(cloud, customer, order_id, "confirmed")
    cloud.wait_until_idle(timeout=SETTLE)
    cloud.flush_delivery_streams()
    archived = [
        record
        for lines in _archive(cloud, "events/context=orders/fact=OrderCreated/").values()
        for record in lines
        if record["subject"] == order_id
    ]
    assert archived
    sealed = SealedData.model_validate(archived[0]["data"]["personal"])
    assert marker in json.dumps(_vault(cloud).open(customer, sealed))  # readable, by the key, before

    # WHEN the customer erases their personal data
    erased = requests.delete(
        f"{cloud.gateway_url}/customers/me/personal-data", headers=_headers(cloud, customer), timeout=30
    )
    assert erased.status_code == 200, erased.text
    cloud.wait_until_idle(timeout=SETTLE)
    cloud.flush_delivery_streams()

    # THEN the archived address can never be opened again, and no archived file holds it in clear
    with pytest.raises(PersonalDataErasedError):
        _vault(cloud).open(customer, sealed)  # a vault that never cached the key, as any new container
    s3, bucket = cloud.client("s3"), cloud.physical_id("ArchiveBucket")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            text = gzip.decompress(body) if item["Key"].endswith(".gz") else body
            assert marker.encode() not in text, item["Key"]
            assert base64.b64encode(marker.encode())[:12] not in text, item["Key"]
