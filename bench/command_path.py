"""Command path benchmark: DynamoDB requests per command (warm and cold containers) and how a cold load's time
grows with the stream's length, against moto in process. The last line printed is one JSON object.

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

from microsystem import DeciderRunner, DynamoDBEventStore, fingerprint
from orders import (
    ConfirmOrder,
    PlaceOrder,
    RequestedLine,
    ShipOrder,
    order_decider,
    parse_pricing_config,
    price_order,
)
from tests.support.aws import create_table, resource
from tests.support.counter import Increment, counter_decider

ORDERS = 200
SNAPSHOT_EVERY = 10  # a commit carries a snapshot every 10 events: a cold load reads at most 11 commits
LOAD_REPEATS = 30


class Requests:
    """DynamoDB requests by kind, counted through botocore's event hooks."""

    def __init__(self, client) -> None:
        self.counts: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model, **_) -> None:
        self.counts["reads" if model.name in ("Query", "GetItem", "Scan") else "writes"] += 1

    def reset(self) -> None:
        self.counts.clear()


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

    requests.reset()
    for order_id in order_ids:
        command = PlaceOrder(
            order_id=order_id, customer_id="bench", priced=priced, destination_country="NL", at=now
        )
        run(warm, order_id, command, expect_new=True)
    place = dict(requests.counts)

    requests.reset()
    for order_id in order_ids:
        run(warm, order_id, ConfirmOrder(order_id=order_id, payment_id=f"pay-{order_id}", at=now))
    warm_counts = dict(requests.counts)

    requests.reset()
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
