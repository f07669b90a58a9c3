"""Flash sale benchmark: 2,000 reservations of one unit for one SKU holding 1,500 units, applied through the
real inventory buckets handler (functions/inventory_buckets_consumer) and the DynamoDB event store against
moto running as a server (its own process, reached over HTTP as Lambda reaches DynamoDB).

Two runs in the same process, each on a table of its own:
- baseline, the single stream as it was: the SKU in one bucket, one message per invocation, so one commit
  per reservation, decided after the one before;
- buckets: the SKU opened in 8 buckets; each reservation in its order's home bucket (as the router sends
  it), each bucket's FIFO group handed to the handler in batches of 10 (Lambda's batch size), the 8 groups
  at once (one thread each, as Lambda runs one batch per message group at a time).
Both must end with exactly 1,500 reserved, 500 refused, none oversold. Nothing is released or received
during the sale, so no reservation is refused while a bucket still has a unit (the one case where that can
happen is kept out: docs/capacity.md, "When a reservation is refused").

After the sale, 100 orders of the bucket run are cancelled (their units freed in whichever bucket held
them) and 120 more reservations come: `stranded_units_after_rebalance` counts the units still available
once they are decided (0: every freed unit reached a reservation, whichever bucket it was homed in).

The last line printed is one JSON object.

    .venv/bin/python bench/flash_sale.py     # or: make bench
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import offline  # noqa: F401  (before the layers are imported: puts them on the path; fake AWS account)
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "inventory"))

import boto3  # noqa: E402

from eventcore import commit_from_item  # noqa: E402
from eventcore.messaging.inbound import CommandMessage  # noqa: E402
from inventory import MAX_BUCKETS  # noqa: E402
from tests.support.aws import create_table  # noqa: E402
from tests.support.lambdas import LambdaContext, load_function  # noqa: E402
from tests.support.polling import wait_until  # noqa: E402

SKU = "SKU-DROP-001"
UNITS = 1_500
RESERVATIONS = 2_000
BUCKETS = 8
BATCH_SIZE = 10  # SQS FIFO's largest batch for Lambda
CANCELLED_AFTER = 100
LATECOMERS = 120
# AWS latency assumed for the ceiling (docs/capacity.md): a DynamoDB request, and the Lambda-SQS overhead of
# one FIFO batch (receive, invoke, delete).
DYNAMODB_REQUEST_SECONDS = 0.010
BATCH_OVERHEAD_SECONDS = 0.020
SQS_MESSAGES_PER_GROUP = 300  # a FIFO message group's ceiling in high-throughput mode (docs/capacity.md)


class Requests:
    """DynamoDB requests and the items they wrote, counted through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            if model.name in ("Query", "GetItem", "Scan"):
                self.counts["reads"] += 1
                if threading.current_thread().name.startswith("stock-siblings"):
                    self.counts["sibling_reads"] += 1  # read together, one round trip for all
            else:
                self.counts["writes"] += 1
                self.counts["items_written"] += len(params.get("TransactItems", [None]))


# moto's server, one request at a time: moto's conditional writes race under concurrent requests (a commit
# could overwrite another at the same version, which DynamoDB never allows), so requests are serialised, as
# the local cloud serialises them.
SERIALISED_MOTO_SERVER = """
import sys, threading
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app, run_simple
app, lock = DomainDispatcherApplication(create_backend_app), threading.Lock()
def serialised(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple("127.0.0.1", int(sys.argv[1]), serialised, threaded=True, request_handler=MotoRequestHandler)
"""


def moto_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", SERIALISED_MOTO_SERVER, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/moto-api/", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(up, timeout=60, interval=0.2)
    return server, url


def reserve(order_id: str) -> CommandMessage:
    return CommandMessage(
        command_type="ReserveStock",
        command_id=f"ReserveStock:{order_id}:{SKU}",
        payload={"sku": SKU, "order_id": order_id, "quantity": 1, "expires_at": "2099-01-01T00:00:00+00:00"},
    )


def release(order_id: str) -> CommandMessage:
    return CommandMessage(
        command_type="ReleaseStock",
        command_id=f"ReleaseStock:{order_id}:{SKU}",
        payload={"sku": SKU, "order_id": order_id, "reason": "order cancelled"},
    )


def sqs_event(group: str, messages: list[CommandMessage]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": message.model_dump_json(),
                "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:bench-inventory-buckets.fifo",
                "awsRegion": "eu-west-1",
            }
            for message in messages
        ]
    }


class Run:
    """The handler on a table and a stock configuration of its own."""

    def __init__(self, name: str, buckets: int) -> None:
        dynamodb, ssm = boto3.client("dynamodb"), boto3.client("ssm")
        table = create_table(dynamodb, "InventoryEventLog", f"bench-flash-{name}-{uuid.uuid4().hex[:6]}")
        parameter = f"/bench/flash-{name}/initial-stock"
        stock = {"stock": [{"sku": SKU, "quantity": UNITS, "buckets": buckets}]}
        ssm.put_parameter(Name=parameter, Value=json.dumps(stock), Type="String", Overwrite=True)
        os.environ |= {"EVENT_LOG_TABLE": table, "INITIAL_STOCK_PARAMETER": parameter}
        self.table = table
        self.module = load_function("inventory_buckets_consumer")
        self.service = self.module.service
        self.requests = Requests(self.service.runner.store._client)
        plan = self.service._claims

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.requests.counts["sibling_rounds"] += 1
            return plan(*args, **kwargs)

        self.service._claims = counted
        self.service.stock(SKU)  # the configuration read, as a warm container has it
        self.context = LambdaContext()

    def route(self, messages: list[CommandMessage]) -> dict[str, list[CommandMessage]]:
        """What the router does: each command in its order's home bucket's message group."""
        groups: dict[str, list[CommandMessage]] = defaultdict(list)
        for message in messages:
            sku, bucket = self.service.bucket_for(message)
            groups[sku if bucket == 0 else f"{sku}#{bucket}"].append(message)
        return groups

    def apply(self, group: str, messages: list[CommandMessage], batch_size: int) -> None:
        for start in range(0, len(messages), batch_size):
            event = sqs_event(group, messages[start : start + batch_size])
            response = self.module.lambda_handler(event, self.context)
            assert response == {"batchItemFailures": []}, response

    def facts(self) -> Counter[str]:
        client = boto3.client("dynamodb")
        counts: Counter[str] = Counter()
        for page in client.get_paginator("scan").paginate(TableName=self.table):
            for item in page["Items"]:
                counts.update(event.event_type for event in commit_from_item(item).events)
        return counts


def sale(run: Run, orders: list[str], *, batch_size: int, parallel: bool) -> dict[str, float]:
    groups = run.route([reserve(order) for order in orders])
    run.service.stock(SKU)  # opened (the opening's commits are not the sale's)
    moved_before = run.facts()["StockMovedIn"]
    run.requests.counts.clear()
    started = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            for future in [pool.submit(run.apply, g, m, batch_size) for g, m in groups.items()]:
                future.result()
    else:
        for group, messages in groups.items():
            run.apply(group, messages, batch_size)
    elapsed = time.perf_counter() - started
    counts = dict(run.requests.counts)
    facts = run.facts()
    stock = run.service.stock(SKU)
    batches = sum(-(-len(m) // batch_size) for m in groups.values())
    return {
        "seconds": elapsed,
        "reservations_per_second": len(orders) / elapsed,
        "reserved": facts["StockReserved"],
        "refused": facts["StockReservationRefused"],
        "oversold": max(0, stock.totals.reserved - UNITS)
        + sum(1 for b in stock.by_bucket if b.levels.available < 0),
        "writes_per_reservation": counts.get("items_written", 0) / len(orders),
        "writes_per_batch": counts.get("writes", 0) / batches,
        "reads_per_batch": counts.get("reads", 0) / batches,
        "requests_per_batch": (counts.get("reads", 0) + counts.get("writes", 0)) / batches,
        # One after the other: the writes, the reads of the handler's thread, one per round of sibling reads.
        "round_trips_per_batch": (
            counts.get("writes", 0)
            + counts.get("reads", 0)
            - counts.get("sibling_reads", 0)
            + counts.get("sibling_rounds", 0)
        )
        / batches,
        "moves": facts["StockMovedIn"] - moved_before,
        "groups": len(groups),
    }


def after_the_sale(run: Run, orders: list[str]) -> dict[str, int]:
    """Cancel 100 orders holding units (freed in whichever bucket held them), then 120 latecomers."""
    holders = set()
    for bucket in range(BUCKETS):
        state = run.service.runner.load(f"{SKU}#{bucket}" if bucket else SKU).state
        holders |= set(state.reservations if state else ())
    held = [order for order in orders if order in holders][:CANCELLED_AFTER]
    for group, messages in run.route([release(order) for order in held]).items():
        run.apply(group, messages, BATCH_SIZE)
    latecomers = [f"late-{uuid.uuid4()}" for _ in range(LATECOMERS)]
    before = run.facts()
    for group, messages in run.route([reserve(order) for order in latecomers]).items():
        run.apply(group, messages, BATCH_SIZE)
    facts = run.facts()
    stock = run.service.stock(SKU)
    return {
        "released": len(held),
        "latecomers_reserved": facts["StockReserved"] - before["StockReserved"],
        "latecomers_refused": facts["StockReservationRefused"] - before["StockReservationRefused"],
        "stranded_units_after_rebalance": stock.totals.available,
    }


def main() -> None:
    server, url = moto_server()
    os.environ |= {
        "AWS_ENDPOINT_URL": url,
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    # The handler's own log lines and metrics (to stdout on Lambda) would bury the figures.
    figures_out, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    try:
        orders = [str(uuid.uuid4()) for _ in range(RESERVATIONS)]
        baseline = sale(Run("baseline", 1), orders, batch_size=1, parallel=False)
        bucketed_run = Run("buckets", BUCKETS)
        buckets = sale(bucketed_run, orders, batch_size=BATCH_SIZE, parallel=True)
        later = after_the_sale(bucketed_run, orders)
    finally:
        sys.stdout.close()
        sys.stdout = figures_out
        server.terminate()
        server.wait(timeout=30)
    per_bucket = min(
        SQS_MESSAGES_PER_GROUP,
        BATCH_SIZE / (buckets["round_trips_per_batch"] * DYNAMODB_REQUEST_SECONDS + BATCH_OVERHEAD_SECONDS),
    )
    figures = {
        "reservations": RESERVATIONS,
        "units": UNITS,
        "buckets": BUCKETS,
        "baseline_reservations_per_second": round(baseline["reservations_per_second"], 1),
        "reservations_per_second": round(buckets["reservations_per_second"], 1),
        "speedup_vs_single_stream": round(
            buckets["reservations_per_second"] / baseline["reservations_per_second"], 2
        ),
        "baseline_dynamodb_writes_per_reservation": round(baseline["writes_per_reservation"], 3),
        "dynamodb_writes_per_reservation": round(buckets["writes_per_reservation"], 3),
        "dynamodb_requests_per_batch": round(buckets["requests_per_batch"], 2),
        "dynamodb_reads_per_batch": round(buckets["reads_per_batch"], 2),
        "dynamodb_writes_per_batch": round(buckets["writes_per_batch"], 2),
        "dynamodb_round_trips_per_batch": round(buckets["round_trips_per_batch"], 2),
        "baseline_reserved": baseline["reserved"],
        "baseline_refused": baseline["refused"],
        "reserved": buckets["reserved"],
        "refused": buckets["refused"],
        "oversold": baseline["oversold"] + buckets["oversold"],
        "moves_between_buckets_during_the_sale": buckets["moves"],
        **later,
        "max_buckets": MAX_BUCKETS,
        "aws_reservations_per_bucket_per_second": round(per_bucket),
        "aws_reservations_per_second_ceiling": round(per_bucket * MAX_BUCKETS),
    }
    for name, value in figures.items():
        print(f"{name:>42}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
