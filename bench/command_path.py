"""Command path benchmark: DynamoDB requests per command (warm and cold containers), the extra requests that
sealing an order's personal data costs (against the same orders placed without it, in the same run), and how
a cold load's time grows with the stream's length, against moto in process. The last line printed is one
JSON object.

    make bench            # or: .venv/bin/python bench/command_path.py
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import boto3
import offline  # noqa: F401  (before the layers are imported: puts them on the path; fake AWS account)
from moto import mock_aws

from eventcore import DeciderRunner, DynamoDBEventStore, fingerprint
from eventcore.personal_data import PersonalDataVault
from orders import (
    ConfirmOrder,
    PlaceOrder,
    RequestedLine,
    ShipOrder,
    order_decider,
    parse_pricing_config,
    price_order,
)
from orders.personal_details import PersonalDetails, ShippingAddress, for_owner
from orders.service import Checkout, OrderService
from orders.views import order_document
from tests.support.aws import create_table, resource
from tests.support.counter import Increment, counter_decider

ORDERS = 200
SNAPSHOT_EVERY = 10  # a commit carries a snapshot every 10 events: a cold load reads at most 11 commits
LOAD_REPEATS = 30


class Requests:
    """AWS requests by kind (DynamoDB reads and writes, KMS calls), counted through botocore's event hooks."""

    def __init__(self, *clients) -> None:
        self.counts: Counter[str] = Counter()
        for client in clients:
            client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model, **_) -> None:
        if model.service_model.service_name == "kms":
            self.counts["kms"] += 1
        else:
            self.counts["reads" if model.name in ("Query", "GetItem", "Scan") else "writes"] += 1

    def total(self) -> int:
        return sum(self.counts.values())


def pricing():
    def param(logical_id: str) -> dict:
        return json.loads(resource(logical_id)["Properties"]["Value"])

    return parse_pricing_config(
        param("CatalogParameter"), param("CampaignsParameter"), param("ShippingParameter"), "EUR"
    )


def run(runner: DeciderRunner, order_id: str, command, *, expect_new: bool = False) -> None:
    runner.handle(
        order_id,
        command,
        command_id=f"{type(command).__name__}:{uuid.uuid4()}",
        fingerprint=fingerprint(command.model_dump(mode="json")),
        expect_new=expect_new,
    )


def command_path(client, table: str) -> dict[str, float]:
    store = DynamoDBEventStore(table, client)
    requests = Requests(client)
    config = pricing()
    now = datetime.now(UTC)
    priced = price_order(
        [RequestedLine(sku="SKU-TEA-001", quantity=2)],
        destination_country="NL",
        campaign_code=None,
        config=config,
        at=now,
    )
    warm = DeciderRunner(order_decider, store)
    order_ids = [str(uuid.uuid4()) for _ in range(ORDERS)]

    requests.counts.clear()
    for order_id in order_ids:
        command = PlaceOrder(
            order_id=order_id, customer_id="bench", priced=priced, destination_country="NL", at=now
        )
        run(warm, order_id, command, expect_new=True)
    place = dict(requests.counts)

    requests.counts.clear()
    for order_id in order_ids:
        run(warm, order_id, ConfirmOrder(order_id=order_id, payment_id=f"pay-{order_id}", at=now))
    warm_counts = dict(requests.counts)

    requests.counts.clear()
    for order_id in order_ids:  # every command in a container that has never seen the order
        ship = ShipOrder(order_id=order_id, carrier="PostNL", tracking_number=f"TR-{order_id[:8]}", at=now)
        run(DeciderRunner(order_decider, store), order_id, ship)
    cold_counts = dict(requests.counts)

    return {
        "place_reads_per_command": place.get("reads", 0) / ORDERS,
        "place_writes_per_command": place.get("writes", 0) / ORDERS,
        "warm_reads_per_command": warm_counts.get("reads", 0) / ORDERS,
        "warm_writes_per_command": warm_counts.get("writes", 0) / ORDERS,
        "cold_reads_per_command": cold_counts.get("reads", 0) / ORDERS,
        "cold_writes_per_command": cold_counts.get("writes", 0) / ORDERS,
    }


ADDRESS = ShippingAddress(name="Bench", line1="Kade 1", city="Utrecht", postal_code="3511 AA", country="NL")


def personal_data_cost(client, kms, table: str, keys_table: str, kms_key: str) -> dict[str, float]:
    """AWS requests (DynamoDB and KMS, the event's own write included) per order placed by one customer, with
    the address sealed and without it (the baseline), in a warm container, in a fresh container, and for the
    customer's very first order; and per owner read of a sealed order on a warm container."""
    config = pricing()
    basket = (RequestedLine(sku="SKU-TEA-001", quantity=2),)

    def container() -> tuple[OrderService, PersonalDataVault, Requests]:
        dynamodb, keys = boto3.client("dynamodb"), boto3.client("kms")
        vault = PersonalDataVault(keys_table, dynamodb, keys, kms_key)
        runner = DeciderRunner(order_decider, DynamoDBEventStore(table, dynamodb))
        return OrderService(runner, lambda: config, vault=vault), vault, Requests(dynamodb, keys)

    def place(service: OrderService, customer: str, *, sealed: bool) -> None:
        personal = PersonalDetails(shipping_address=ADDRESS) if sealed else None
        checkout = Checkout(lines=basket, destination_country="NL", personal=personal)
        service.place(customer, checkout, idempotency_key=None)

    service, vault, requests = container()
    requests.counts.clear()
    place(service, "regular", sealed=True)  # the customer's first order: their data key is made
    figures: dict[str, float] = {"sealed_first_order_requests": requests.total()}
    for sealed in (False, True):
        requests.counts.clear()
        for _ in range(ORDERS):
            place(service, "regular", sealed=sealed)
        figures[f"{'sealed' if sealed else 'plain'}_warm_requests_per_order"] = requests.total() / ORDERS
        figures[f"{'sealed' if sealed else 'plain'}_warm_kms_per_order"] = requests.counts["kms"] / ORDERS

    cold, _, cold_requests = container()
    place(cold, "regular", sealed=True)
    figures["sealed_fresh_container_requests"] = cold_requests.total()

    answer = service.place(
        "regular",
        Checkout(lines=basket, destination_country="NL", personal=PersonalDetails(shipping_address=ADDRESS)),
        idempotency_key=None,
    )
    document = order_document(answer.order, answer.version)
    requests.counts.clear()
    for _ in range(ORDERS):
        assert for_owner(vault, document)["personal_data"] == "available"
    figures["owner_read_warm_requests_per_read"] = requests.total() / ORDERS
    figures["sealing_extra_requests_per_order_warm"] = round(
        figures["sealed_warm_requests_per_order"] - figures["plain_warm_requests_per_order"], 3
    )
    return figures


def cold_load_ms(
    store: DynamoDBEventStore, events: int, snapshot_every: int, repeats: int = LOAD_REPEATS
) -> float:
    """Median time for a fresh container to load a stream of `events` events (written 1 per command)."""
    stream = f"len{events}-every{snapshot_every}"
    writer = DeciderRunner(counter_decider(snapshot_every=snapshot_every), store)
    for i in range(events):
        command = Increment()
        writer.handle(stream, command, command_id=f"c{i}", fingerprint=fingerprint(command.model_dump()))
    samples = []
    for _ in range(repeats):
        reader = DeciderRunner(counter_decider(snapshot_every=snapshot_every), store)
        started = time.perf_counter()
        loaded = reader.load(stream)
        samples.append((time.perf_counter() - started) * 1000)
        assert loaded.state.value == events
    return statistics.median(samples)


def main() -> None:
    with mock_aws():
        client = boto3.client("dynamodb")
        table = create_table(client, "OrdersEventLog", "bench-orders-event-log")
        figures = command_path(client, table)
        kms = boto3.client("kms")
        figures |= personal_data_cost(
            client,
            kms,
            table,
            create_table(client, "PersonalDataKeys", "bench-personal-data-keys"),
            kms.create_key(Description="bench personal data")["KeyMetadata"]["Arn"],
        )
        store = DynamoDBEventStore(table, client)
        short = cold_load_ms(store, 10, snapshot_every=SNAPSHOT_EVERY)
        long = cold_load_ms(store, 1000, snapshot_every=SNAPSHOT_EVERY)
        # Baseline, same run: the same 1,000 events without snapshots (a full replay on every cold load).
        replay = cold_load_ms(store, 1000, snapshot_every=10**9, repeats=5)
    figures |= {
        "orders": ORDERS,
        "snapshot_every": SNAPSHOT_EVERY,
        "load_ms_10_events": round(short, 3),
        "load_ms_1000_events": round(long, 3),
        "load_ms_1000_events_without_snapshots": round(replay, 3),
        "load_ms_ratio_1000_vs_10": round(long / short, 3),
        "load_ms_ratio_without_snapshots_1000_vs_10": round(replay / short, 3),
    }
    for name, value in figures.items():
        print(f"{name:45} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
