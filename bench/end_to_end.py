"""End-to-end benchmark: N orders through the HTTP gateway of a local cloud running template.yaml, with a few
concurrent clients. Per order, from the POST's 201: the time until the read model (the OrdersView table)
holds the order, and until it holds the order's final status (confirmed or cancelled, via the saga: stock
reserved in inventory and the payment authorised).

Two phases on one local cloud, after a warm-up order:
- latency at a steady load: each client places an order every `--interval` seconds (4 clients, 4 s: 1
  order/s offered, well below the 1.7 orders/s the four contexts' saga sustains on 2 cores), so the figures
  are the pipeline's, not a queue's;
- throughput: the same clients as fast as the system answers (closed loop). Everything shares 2 cores and
  one serialised moto, so latency under saturation is queueing and is reported as `saturated_*`.

The read model is watched by reading the OrdersView table directly (BatchGetItem of the pending orders, one
watcher thread, again after every write to the table), not by polling GET /orders/{id}: polling would load
the gateway and the query function with hundreds of requests and skew what is measured. Baseline in the
same run: the same orders POSTed to a local cloud with no stream consumers at all (pollers off), the bare
command round trip.

The functions' own log lines go to a file (printed at the end), so the last line printed is one JSON object.

    .venv/bin/python bench/end_to_end.py [--orders 60] [--clients 4] [--interval 4.0]    # or: make bench
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import requests  # noqa: E402

from localcloud import LocalCloud  # noqa: E402
from tests.support.orders import order_body  # noqa: E402

if TYPE_CHECKING:
    pass

TEMPLATE = ROOT / "template.yaml"
FUNCTION_LOGS = Path(tempfile.gettempdir()) / "bench-end-to-end-functions.log"
FINAL_STATUSES = {"confirmed", "cancelled", "shipped"}
FINAL_TIMEOUT = 60.0  # seconds after the last POST: the run is bounded
# One unit of one of four SKUs (100 of each in stock), in turn: every order can be confirmed, and the stock
# reservations spread over four FIFO groups, as a shop's do.
SKUS = ("SKU-TEA-001", "SKU-TEA-002", "SKU-MUG-001", "SKU-POT-001")


def body(number: int) -> dict[str, Any]:
    return order_body((SKUS[number % len(SKUS)], 1))


def watch_read_model(
    cloud: LocalCloud, orders: list[dict[str, Any]], lock: threading.Lock, stop: threading.Event
) -> None:
    """Record, per order, when the view first holds it (`seen`) and when it holds a final status (`final`)."""
    dynamodb = cloud.client("dynamodb")
    table = cloud.physical_id("OrdersView")
    writes = cloud.writes.generation(table)
    while not stop.is_set():
        with lock:
            pending = {order["order_id"]: order for order in orders if "final" not in order}
        if not pending and stop.is_set():
            return
        ids = list(pending)
        for start in range(0, len(ids), 100):
            keys = [{"order_id": {"S": order_id}} for order_id in ids[start : start + 100]]
            request: dict[str, Any] = {
                table: {
                    "Keys": keys,
                    "ProjectionExpression": "order_id, #s",
                    "ExpressionAttributeNames": {"#s": "status"},
                }
            }
            while request:
                answer = dynamodb.batch_get_item(RequestItems=request)
                now = time.monotonic()
                for item in answer["Responses"].get(table, []):
                    order = pending[item["order_id"]["S"]]
                    order.setdefault("seen", now)
                    if item["status"]["S"] in FINAL_STATUSES:
                        order["final"] = now
                        order["status"] = item["status"]["S"]
                request = answer.get("UnprocessedKeys") or {}
        writes = cloud.writes.wait(table, writes, timeout=0.5)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def quiet_cloud(**options: Any) -> LocalCloud:
    """A local cloud whose invocation lines and function logs go elsewhere: the last line stays the JSON."""
    return LocalCloud(
        TEMPLATE, port=0, moto_port=0, output=io.StringIO(), function_logs=FUNCTION_LOGS, **options
    )


def run_baseline(orders: int, clients: int) -> dict[str, float]:
    with LocalCloud(
        TEMPLATE, port=0, moto_port=0, pollers=False, output=io.StringIO(), function_logs=FUNCTION_LOGS
    ) as cloud:
        token = cloud.token("bench-baseline")
        lock = threading.Lock()
        place_orders(cloud, token, min(8, orders), clients, [], lock, 0.0)  # warm every worker
        results, elapsed = place_orders(cloud, token, orders, clients, [], lock, 0.0)
    posts = [result["post_ms"] for result in results]
    return {
        "baseline_orders_per_second": len(results) / elapsed,
        "baseline_p50_ms_post": statistics.median(posts),
        "baseline_p99_ms_post": percentile(posts, 0.99),
    }


def run_full(orders: int, clients: int, interval: float) -> tuple[dict[str, float], list[dict[str, Any]]]:
    with LocalCloud(
        TEMPLATE, port=0, moto_port=0, output=io.StringIO(), function_logs=FUNCTION_LOGS
    ) as cloud:
        token = cloud.token("bench")
        lock = threading.Lock()
        # Warm up: one order through the whole saga, so cold starts are not in the figures.
        measure(cloud, token, 1, 1, 0.0, lock)
        # Latency at a steady load the system sustains: each client places an order every `interval` s.
        paced, tracked = measure(cloud, token, orders, clients, interval, lock)
        # Throughput: the same clients as fast as the system answers (closed loop, saturated).
        saturated, _ = measure(cloud, token, orders, clients, 0.0, lock)
    figures = {
        "offered_orders_per_second": clients / interval,
        "p50_ms_to_read_model": paced["p50_ms_to_read_model"],
        "p99_ms_to_read_model": paced["p99_ms_to_read_model"],
        "p50_ms_to_final_status": paced["p50_ms_to_final_status"],
        "p99_ms_to_final_status": paced["p99_ms_to_final_status"],
        "p50_ms_post": paced["p50_ms_post"],
        "p99_ms_post": paced["p99_ms_post"],
        "orders_per_second": saturated["orders_per_second"],
        "orders_per_second_to_final_status": saturated["orders_per_second_to_final_status"],
        "saturated_p50_ms_to_read_model": saturated["p50_ms_to_read_model"],
        "saturated_p50_ms_to_final_status": saturated["p50_ms_to_final_status"],
    }
    return figures, tracked


def measure(
    cloud: LocalCloud, token: str, orders: int, clients: int, interval: float, lock: threading.Lock
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    tracked: list[dict[str, Any]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_read_model, args=(cloud, tracked, lock, stop))
    watcher.start()
    started = time.monotonic()
    results, post_elapsed = place_orders(cloud, token, orders, clients, tracked, lock, interval)
    deadline = time.monotonic() + FINAL_TIMEOUT
    while time.monotonic() < deadline:
        with lock:
            if all("final" in order for order in tracked):
                break
        time.sleep(0.05)
    stop.set()
    watcher.join()
    total_elapsed = time.monotonic() - started
    missing = [order["order_id"] for order in tracked if "final" not in order]
    if missing:
        raise SystemExit(f"{len(missing)} orders did not reach a final status within {FINAL_TIMEOUT} s")
    to_view = [(order["seen"] - order["created"]) * 1000 for order in tracked]
    to_final = [(order["final"] - order["created"]) * 1000 for order in tracked]
    posts = [order["post_ms"] for order in tracked]
    figures = {
        "orders_per_second": len(results) / post_elapsed,
        "orders_per_second_to_final_status": len(tracked) / total_elapsed,
        "p50_ms_to_read_model": statistics.median(to_view),
        "p99_ms_to_read_model": percentile(to_view, 0.99),
        "p50_ms_to_final_status": statistics.median(to_final),
        "p99_ms_to_final_status": percentile(to_final, 0.99),
        "p50_ms_post": statistics.median(posts),
        "p99_ms_post": percentile(posts, 0.99),
    }
    return figures, tracked


def place_orders(
    cloud: LocalCloud,
    token: str,
    orders: int,
    clients: int,
    tracked: list[dict[str, Any]],
    lock: threading.Lock,
    interval: float,
) -> tuple[list[dict[str, Any]], float]:
    """POST `orders` orders from `clients` threads. Each order joins `tracked` (order_id, post_ms, created)
    as soon as its 201 arrives; each client starts an order every `interval` seconds (0: as soon as the
    previous one is answered), the clients a fraction of an interval apart, so that orders arrive evenly
    rather than in bursts of `clients`; the orders take the SKUs in turn across the clients too."""
    counts = [orders // clients + (1 if i < orders % clients else 0) for i in range(clients)]
    errors: list[str] = []

    def client(index: int, count: int) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {token}"}
        first = start + interval * index / clients
        for number in range(count):
            if interval:
                time.sleep(max(0.0, first + number * interval - time.monotonic()))  # pacing, not waiting
            started = time.monotonic()
            response = session.post(
                f"{cloud.gateway_url}/orders",
                json=body(number * clients + index),
                headers=headers,
                timeout=30,
            )
            created = time.monotonic()
            with lock:
                if response.status_code != 201:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                    continue
                tracked.append(
                    {
                        "order_id": response.json()["order_id"],
                        "post_ms": (created - started) * 1000,
                        "created": created,
                    }
                )

    threads = [threading.Thread(target=client, args=(index, count)) for index, count in enumerate(counts)]
    start = started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if errors:
        raise SystemExit(f"{len(errors)} POSTs failed, first: {errors[0]}")
    return list(tracked), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--interval", type=float, default=4.0, help="seconds between one client's orders")
    arguments = parser.parse_args()
    orders, clients = max(1, min(arguments.orders, 500)), max(1, min(arguments.clients, 16))

    FUNCTION_LOGS.unlink(missing_ok=True)
    print(f"end to end: {orders} orders, {clients} concurrent clients, template {TEMPLATE.name}")
    print("baseline: the same POSTs against a local cloud with no stream consumers ...")
    baseline = run_baseline(orders, clients)
    print("full system: POSTs while the read side and the payment saga run ...")
    figures, tracked = run_full(orders, clients, max(0.1, arguments.interval))
    statuses: dict[str, int] = {}
    for order in tracked:
        statuses[order["status"]] = statuses.get(order["status"], 0) + 1

    print(f"functions' logs: {FUNCTION_LOGS}")
    print(f"final statuses: {statuses}")
    print("read model: watched by reading the OrdersView table directly (BatchGetItem, ~20 ms loop)")
    print(f"{'figure':<36}{'value':>12}")
    for name, value in {**figures, **baseline}.items():
        unit = "/s" if "per_second" in name else " ms"
        print(f"{name:<36}{value:>10.1f}{unit}")
    target = "met" if figures["p50_ms_to_read_model"] < 250 else "NOT met"
    print(f"target p50 to read model < 250 ms: {target}")
    result = {
        "orders": orders,
        "clients": clients,
        "interval_s": arguments.interval,
        **{name: round(value, 1) for name, value in {**figures, **baseline}.items()},
        "final_statuses": statuses,
        "read_model_watch": "OrdersView table via BatchGetItem",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
