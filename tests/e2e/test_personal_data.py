"""Personal data end to end, through the HTTP gateway of a local cloud of its own: orders whose address and
email carry a unique marker go through the whole system (saga, shipping, projections, publishing), then
every table item, every DynamoDB stream and Kinesis record from the trim horizon, every queue and dead-letter
message and the functions' log output are searched for the marker. It is found nowhere in clear, before the
erasure or after it; only the owner's own answers show it, and only until the erasure.

The end-to-end cloud trusts a cached data key for 1 s (PersonalDataKeyCacheSeconds) so that the erasure's
effect on other warm containers is seen without waiting a minute; the other modules' orders share it, and
hold no marker."""

from __future__ import annotations

import io
import json
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
import requests

from eventcore.personal_data import PersonalDataErasedError, PersonalDataVault, SealedData
from shipping import shipment_id_for
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from pathlib import Path

    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

SETTLE = 90.0  # seconds: generous, for a loaded two-core machine
WAREHOUSE = ["orders/warehouse"]
PRIVACY = ["orders/privacy"]


class Caller:
    def __init__(self, cloud: LocalCloud, subject: str, scopes: list[str] | None = None) -> None:
        self.url = cloud.gateway_url
        self.headers = {"Authorization": f"Bearer {cloud.token(subject, scopes=scopes)}"}

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", json=body, headers=self.headers, timeout=60)


def order_of(caller: Caller, order_id: str, *statuses: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        response = caller("GET", f"/orders/{order_id}")
        order = response.json() if response.status_code == 200 else None
        return order if order and order["status"] in statuses else None

    return wait_until(reached, timeout=SETTLE, interval=0.25)


def ready_to_ship(staff: Caller, shipment_id: str) -> bool:
    response = staff("GET", f"/shipments/{shipment_id}")
    return response.ok and response.json()["status"] == "ready_to_ship"


def erased_view(owner: Caller, order_id: str) -> dict[str, Any] | None:
    order: dict[str, Any] = owner("GET", f"/orders/{order_id}").json()
    return order if order.get("personal_data") == "erased" else None


# -- searching everything the local cloud holds --------------------------------------------------------------


def everything(cloud: LocalCloud, logs: Path, report: io.StringIO) -> dict[str, list[str]]:
    """Every stored or sent thing, as text, by where it is: table items, stream and Kinesis records, queue
    messages, the functions' log output and the invocation report."""
    return {
        "tables": _table_items(cloud),
        "table streams": _table_stream_records(cloud),
        "kinesis": _kinesis_records(cloud),
        "queues": _queue_messages(cloud),
        "logs": logs.read_text(errors="replace").splitlines() + report.getvalue().splitlines(),
    }


def places_holding(text: str, found: dict[str, list[str]]) -> dict[str, int]:
    return {where: n for where, items in found.items() if (n := sum(text in item for item in items))}


def _table_items(cloud: LocalCloud) -> list[str]:
    dynamodb = cloud.client("dynamodb")
    items = []
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items += [json.dumps(item, default=str) for item in page["Items"]]
    return items


def _table_stream_records(cloud: LocalCloud) -> list[str]:
    streams = cloud.client("dynamodbstreams")
    records = []
    for stream in streams.list_streams()["Streams"]:
        described = streams.describe_stream(StreamArn=stream["StreamArn"])["StreamDescription"]
        for shard in described["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=stream["StreamArn"], ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                records += [json.dumps(record, default=str) for record in page["Records"]]
                iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def _kinesis_records(cloud: LocalCloud) -> list[str]:
    kinesis = cloud.client("kinesis")
    records = []
    for name in kinesis.list_streams()["StreamNames"]:
        for shard in kinesis.list_shards(StreamName=name)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                records += [record["Data"].decode(errors="replace") for record in page["Records"]]
                iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def _queue_messages(cloud: LocalCloud) -> list[str]:
    """Every message of every queue and dead-letter queue, made visible again at once for the pollers."""
    sqs = cloud.client("sqs")
    bodies = []
    for url in sqs.list_queues().get("QueueUrls", []):
        handles = []
        while page := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageAttributeNames=["All"]
        ).get("Messages", []):
            bodies += [json.dumps(message, default=str) for message in page]
            handles += [message["ReceiptHandle"] for message in page]
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return bodies


# -- the test ------------------------------------------------------------------------------------------------


def test_personal_data_is_found_nowhere_in_clear_and_erasure_makes_it_unreadable_everywhere(
    cloud: LocalCloud, cloud_function_logs: Path, cloud_report: io.StringIO
) -> None:
    logs, report = cloud_function_logs, cloud_report
    marker = f"zq{uuid.uuid4().hex[:12]}"
    customer = f"privacy-{uuid.uuid4().hex[:8]}"
    owner, stranger = Caller(cloud, customer), Caller(cloud, f"stranger-{uuid.uuid4().hex[:8]}")
    warehouse, privacy_staff = Caller(cloud, "wh-1", WAREHOUSE), Caller(cloud, "dpo-1", PRIVACY)
    body = {
        "lines": [{"sku": "SKU-TEA-001", "quantity": 1}],
        "shipping_address": {
            "name": f"Ada {marker}",
            "line1": f"{marker} street 1",
            "city": "Utrecht",
            "postal_code": "3511 AA",
            "country": "NL",
        },
        "email": f"{marker}@example.com",
    }

    # GIVEN two orders with the marker in their address and email, one dispatched, the other ready to ship
    placed = [owner("POST", "/orders", body) for _ in range(2)]
    assert [response.status_code for response in placed] == [201, 201], [r.text for r in placed]
    assert marker in placed[0].json()["shipping_address"]["line1"]  # the owner's own answer shows it
    shipped_id, ready_id = (response.json()["order_id"] for response in placed)
    for order_id in (shipped_id, ready_id):
        order_of(owner, order_id, "confirmed")
    shipments = {order_id: shipment_id_for(order_id) for order_id in (shipped_id, ready_id)}
    for shipment_id in shipments.values():
        wait_until(partial(ready_to_ship, warehouse, shipment_id), timeout=SETTLE, interval=0.25)
    dispatched = warehouse(
        "POST",
        f"/shipments/{shipments[shipped_id]}/dispatch",
        {"carrier": "PostNL", "tracking_number": "3SMARKER0001"},
    )
    assert dispatched.status_code == 200, dispatched.text
    assert order_of(owner, shipped_id, "shipped")["shipping_address"]["city"] == "Utrecht"

    # AND a card number where the payment method's token belongs is refused, naming the field, never echoed
    digits = f"4{uuid.uuid4().int % 10**15:015d}"
    card = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    refused_card = owner("POST", "/orders", {**body, "payment_method": card})
    assert (refused_card.status_code, refused_card.json()["errors"][0]["field"]) == (400, "payment_method")
    assert digits[-4:] not in refused_card.text

    # AND once delivered, a return is the owner's only (another customer's order is not found), and only
    # within the window (one second in this cloud): after it, a 409 that says so
    delivered = warehouse("POST", f"/shipments/{shipments[shipped_id]}/deliver")
    assert delivered.status_code == 200, delivered.text
    order_of(owner, shipped_id, "delivered")
    one_tea = {"lines": [{"sku": "SKU-TEA-001", "quantity": 1}]}
    assert stranger("POST", f"/orders/{shipped_id}/returns", one_tea).status_code == 404

    def window_closed() -> dict[str, Any] | None:
        # a line the order lacks: refused either way, so no return is made while the window is still open
        response = owner(
            "POST", f"/orders/{shipped_id}/returns", {"lines": [{"sku": "SKU-MUG-001", "quantity": 1}]}
        )
        assert response.status_code == 409, response.text
        return dict(response.json()) if "return window" in response.json()["message"] else None

    late = wait_until(window_closed, timeout=SETTLE, interval=0.25)
    assert [error["field"] for error in late["errors"]] == ["status"], late

    # THEN only the owner is shown it: not another customer, not warehouse staff, not the privacy staff
    assert stranger("GET", f"/orders/{ready_id}").status_code == 404
    assert marker not in warehouse("GET", f"/shipments/{shipments[ready_id]}").text
    assert marker not in warehouse("GET", "/shipments?status=dispatched&limit=100").text
    assert warehouse("DELETE", f"/customers/{customer}/personal-data").status_code == 403
    assert owner("DELETE", f"/customers/{customer}/personal-data").status_code == 403

    # AND nothing the system stored or sent holds it in clear, though it holds the orders themselves
    wait_until(lambda: owner("GET", f"/orders/{shipped_id}/events").json().get("events"), timeout=SETTLE)
    found = everything(cloud, logs, report)
    assert places_holding(marker, found) == {}
    assert places_holding(digits, found) == places_holding(card, found) == {}  # nor the card number
    assert {"tables", "table streams", "kinesis"} <= set(places_holding(ready_id, found))

    # WHEN the customer erases their personal data
    erased = owner("DELETE", "/customers/me/personal-data")
    assert (erased.status_code, erased.json()["personal_data"]) == (200, "erased"), erased.text

    # THEN every order still exists with its lines, totals and statuses, its address reads as erased
    for order_id in (shipped_id, ready_id):
        order = wait_until(partial(erased_view, owner, order_id), timeout=SETTLE, interval=0.25)
        assert (order["shipping_address"], order["email"], order["lines"][0]["sku"]) == (
            None,
            None,
            "SKU-TEA-001",
        )
    # AND the parcel still in the warehouse cannot go; its order is cancelled and everything undone
    refused = warehouse(
        "POST",
        f"/shipments/{shipments[ready_id]}/dispatch",
        {"carrier": "PostNL", "tracking_number": "3SMARKER0002"},
    )
    assert refused.status_code == 409, refused.text
    assert "erased" in refused.json()["message"]
    assert order_of(owner, ready_id, "cancelled")["cancellation_reason"] == "address_erased"
    assert order_of(owner, shipped_id, "delivered")["total"] == placed[0].json()["total"]

    # AND what was sealed can never be opened again, by any container; the marker is still nowhere
    vault = PersonalDataVault(
        cloud.physical_id("PersonalDataKeys"),
        cloud.client("dynamodb"),
        cloud.client("kms"),
        cloud.attribute("PersonalDataKey", "Arn"),
    )
    for event in owner("GET", f"/orders/{ready_id}/events").json()["events"]:
        if event["type"] == "OrderCreated":
            with pytest.raises(PersonalDataErasedError):
                vault.open(customer, SealedData.model_validate(event["data"]["personal"]))
    assert places_holding(marker, everything(cloud, logs, report)) == {}

    # AND erasing twice is harmless; privacy staff may erase for a customer, a customer only for themself
    assert owner("DELETE", "/customers/me/personal-data").status_code == 200
    assert privacy_staff("DELETE", f"/customers/{customer}/personal-data").json()["personal_data"] == "erased"
