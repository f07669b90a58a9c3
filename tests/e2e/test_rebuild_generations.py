"""End to end through the shared local cloud: OrdersView rebuilt into a new generation with changed logic
(a projection that adds `units`) while orders keep flowing through the gateway, then switched, back and
forth, the previous generation dropped and a lost row repaired in place, from the operator's command line;
then rebuilt back to the running logic, so the modules after this one find OrdersView as they expect.
Throughout the rebuild the queries answer from the old generation only; after the switch, the new one
equals a replay of the log with the new logic, every order written during the rebuild in it. The cloud's
other orders (other modules') are in every generation too; the comparisons are over this module's customers.

The functions keep the generations registry 1 s (`ViewGenerationsCacheSeconds`), so the waits are short.
Every wait is a poll with a deadline."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import requests

from eventcore import DynamoDBEventStore
from eventcore.read.view_store import from_item
from localcloud import LocalCloud
from ops.cli import main
from ops.rebuild import run
from ops.target import local_target
from orders.read_model import order_projection
from tests.e2e.conftest import PARAMETERS, TEMPLATE
from tests.support.polling import wait_until
from tests.support.projections import NAME as WITH_UNITS
from tests.support.projections import order_projection_with_units

pytestmark = pytest.mark.slow

CACHE_SECONDS = int(PARAMETERS["ViewGenerationsCacheSeconds"])
SETTLE = str(CACHE_SECONDS + 1)
CUSTOMERS = ("rb-alice", "rb-bob")
BODY = {
    "lines": [{"sku": "SKU-TEA-001", "quantity": 1}],
    "shipping_address": {
        "name": "Rebuild Example",
        "line1": "Oudegracht 1",
        "city": "Utrecht",
        "postal_code": "3511 AA",
        "country": "NL",
    },
}
TIMEOUT = 30  # per request: a cold worker on a busy machine may take that long to import


class Customers:
    """Two customers placing orders through the gateway, and what the query API answers them."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.url = cloud.gateway_url
        self.tokens = {name: cloud.token(name) for name in CUSTOMERS}
        self.orders: dict[str, str] = {}  # order id -> customer
        self.lock = threading.Lock()

    def headers(self, customer: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[customer]}"}

    def place(self, customer: str) -> str:
        response = requests.post(
            f"{self.url}/orders", json=BODY, headers=self.headers(customer), timeout=TIMEOUT
        )
        assert response.status_code == 201, response.text
        order_id = str(response.json()["order_id"])
        with self.lock:
            self.orders[order_id] = customer
        return order_id

    def get(self, order_id: str) -> requests.Response:
        return requests.get(
            f"{self.url}/orders/{order_id}", headers=self.headers(self.orders[order_id]), timeout=TIMEOUT
        )

    def visible(self, order_id: str) -> bool:
        return self.get(order_id).status_code == 200

    def listed(self, customer: str) -> set[str]:
        response = requests.get(
            f"{self.url}/orders", params={"limit": "100"}, headers=self.headers(customer), timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        return {order["order_id"] for order in response.json()["orders"]}


def ops(cloud: LocalCloud, capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, Any, str]:
    capsys.readouterr()
    status = main(["--endpoint-url", cloud.endpoint_url, "--gateway-url", cloud.gateway_url, *arguments])
    captured = capsys.readouterr()
    out = captured.out.strip()
    return status, json.loads(out) if out.startswith(("{", "[")) else out, captured.err


def rows(cloud: LocalCloud, logical_id: str, *, everyone: bool = False) -> dict[str, dict[str, Any]]:
    """A generation's rows: this module's customers' (or, with `everyone`, the whole table's)."""
    dynamodb = cloud.client("dynamodb")
    found: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=cloud.physical_id(logical_id), ConsistentRead=True
    ):
        for item in map(from_item, page["Items"]):
            if everyone or item["customer_id"] in CUSTOMERS:
                found[item["order_id"]] = item
    return found


def replayed(cloud: LocalCloud, order_id: str, projection: Any) -> dict[str, Any]:
    store = DynamoDBEventStore(cloud.physical_id("OrdersEventLog"), cloud.client("dynamodb"))
    row = projection.replay(store.read(f"Order-{order_id}"))
    return {**row.view, "order_id": order_id, "version": row.version}


def test_a_new_generation_with_new_logic_is_built_while_orders_flow_and_switched_to_without_a_half_built_read(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    customers = Customers(cloud)
    # GIVEN orders placed and in the view
    for customer in CUSTOMERS:
        customers.place(customer)
    wait_until(lambda: all(customers.visible(o) for o in list(customers.orders)), timeout=TIMEOUT)

    # Orders keep flowing through the gateway, and queries keep reading, for as long as the rebuild runs.
    stop = threading.Event()
    problems: list[str] = []
    during: list[str] = []

    reads = 0

    def flow() -> None:
        while not stop.is_set():
            during.append(customers.place(CUSTOMERS[len(during) % 2]))
            stop.wait(0.5)

    def read() -> None:
        # One order after the other, round and round (a light load: the gateway is shared with the flow)
        nonlocal reads
        seen: set[str] = set()
        while not stop.is_set():
            known = list(customers.orders)
            order_id = known[reads % len(known)]
            response = customers.get(order_id)
            reads += 1
            if response.status_code == 200:
                seen.add(order_id)
                if "units" in response.json():
                    problems.append(f"{order_id} answered from the generation being built")
            elif order_id in seen:
                problems.append(f"{order_id} answered {response.status_code} after being seen")
            stop.wait(0.05)

    def loudly(work: Any) -> Any:
        def run() -> None:
            try:
                work()
            except Exception as exc:  # a thread's failure fails the test, never makes it pass vacuously
                problems.append(f"{work.__name__} stopped: {type(exc).__name__}: {exc}")

        return run

    threads = [threading.Thread(target=loudly(flow)), threading.Thread(target=loudly(read))]
    for thread in threads:
        thread.start()

    # One order at each step of the rebuild where a different path must bring it into the new generation:
    # before the scan (the scan), after the scan while the projector does not feed it yet (the catch-up),
    # once it is fed (the projector).
    at_steps: list[str] = []

    def progress(message: str) -> None:
        if message.startswith(("OrdersView: building", "rebuild done", "green is fed")):
            at_steps.append(customers.place("rb-alice"))
            wait_until(lambda: customers.visible(at_steps[-1]), timeout=TIMEOUT)

    try:
        # WHEN OrdersView is rebuilt with the new logic
        target = local_target(cloud.endpoint_url, TEMPLATE, cloud.gateway_url)
        report = run(
            target, "OrdersView", projection=WITH_UNITS, segments=2, settle=float(SETTLE), progress=progress
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    # THEN it is ready, the queries never saw it half built, and orders came in all along
    assert report.ready, report
    assert problems == []
    assert len(at_steps) == 3
    assert len(during) >= 3
    assert reads >= len(customers.orders), "the reader went round every order during the rebuild"
    cloud.wait_until_idle(timeout=60)

    # the new generation equals a replay of the log with the new logic, every order in it; the old one
    # the old logic's
    green, blue = rows(cloud, "OrdersViewGreen"), rows(cloud, "OrdersView")
    assert set(green) == set(customers.orders)
    assert green == {o: replayed(cloud, o, order_projection_with_units) for o in customers.orders}
    assert blue == {o: replayed(cloud, o, order_projection) for o in customers.orders}

    # WHEN the operator looks and switches (one registry change)
    status, generations, _ = ops(cloud, capsys, "rebuild", "status", "OrdersView", "--json")
    assert status == 0
    assert [(g["name"], g["state"]) for g in generations["OrdersView"]] == [
        ("blue", "active"),
        ("green", "ready"),
    ]
    status, switched, _ = ops(cloud, capsys, "rebuild", "switch", "OrdersView", "--json")
    assert (status, switched) == (0, {"previous": "blue", "active": "green"})

    # THEN within the functions' cache age every query reads the new generation, listings too
    some = next(iter(customers.orders))
    wait_until(lambda: customers.get(some).json().get("units") == 1, timeout=TIMEOUT)
    assert customers.listed("rb-alice") | customers.listed("rb-bob") == set(customers.orders)

    # AND a new rebuild is refused while the previous generation is kept (exit 2, says what to do)
    status, _, error = ops(cloud, capsys, "rebuild", "OrdersView", "--settle", SETTLE)
    assert status == 2
    assert "drop the one that is not active first (rebuild drop OrdersView blue)" in error

    # WHEN switched back, and forth again
    assert ops(cloud, capsys, "rebuild", "switch", "OrdersView")[0] == 0
    wait_until(lambda: "units" not in customers.get(some).json(), timeout=TIMEOUT)
    assert ops(cloud, capsys, "rebuild", "switch", "OrdersView", "--to", "green")[0] == 0
    wait_until(lambda: customers.get(some).json().get("units") == 1, timeout=TIMEOUT)

    # WHEN the previous generation is dropped: no longer fed, its table empty; the active one goes on
    whole_blue = len(rows(cloud, "OrdersView", everyone=True))
    status, dropped, _ = ops(cloud, capsys, "rebuild", "drop", "OrdersView", "--settle", SETTLE, "--json")
    assert status == 0
    assert (dropped["generation"], dropped["was"], dropped["rows_deleted"]) == ("blue", "standby", whole_blue)
    later = customers.place("rb-bob")
    wait_until(lambda: customers.visible(later), timeout=TIMEOUT)
    assert customers.get(later).json()["units"] == 1
    assert rows(cloud, "OrdersView") == {}

    # AND a row lost from the active generation is repaired in place, with its own (new) logic
    cloud.client("dynamodb").delete_item(
        TableName=cloud.physical_id("OrdersViewGreen"), Key={"order_id": {"S": some}}
    )
    status, repaired, _ = ops(cloud, capsys, "rebuild", "OrdersView", "--in-place", "--json")
    # (other rows may be written too: any order whose latest event the projector is still applying)
    assert (status, repaired["failed_streams"]) == (0, 0)
    assert repaired["rows_written"] >= 1
    assert rows(cloud, "OrdersViewGreen")[some] == replayed(cloud, some, order_projection_with_units)
    assert customers.get(some).json()["units"] == 1

    # WHEN rebuilt back to the running logic into blue, switched to, and green dropped (the way back
    # after a projection change that is reverted; and the state the other modules expect)
    status, built, _ = ops(
        cloud,
        capsys,
        "rebuild",
        "OrdersView",
        "--projection",
        "orders.read_model:order_projection",
        "--settle",
        SETTLE,
        "--json",
    )
    assert (status, built["generation"], built["ready"]) == (0, "blue", True)
    assert ops(cloud, capsys, "rebuild", "switch", "OrdersView")[0] == 0
    wait_until(lambda: "units" not in customers.get(some).json(), timeout=TIMEOUT)
    assert ops(cloud, capsys, "rebuild", "drop", "OrdersView", "--settle", SETTLE)[0] == 0

    # THEN blue is the running logic's replay of the log again, every order of the module in it
    status, generations, _ = ops(cloud, capsys, "rebuild", "status", "OrdersView", "--json")
    assert [(g["name"], g["state"]) for g in generations["OrdersView"]] == [
        ("blue", "active"),
        ("green", "free"),
    ]
    assert rows(cloud, "OrdersView") == {o: replayed(cloud, o, order_projection) for o in customers.orders}
