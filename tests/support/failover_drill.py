"""A failover drill on the local cloud in two regions (docs/failover.md), for bench/failover.py and, shorter,
tests/regions/test_failover_drill.py.

Clients place orders through the primary's gateway at a steady rate, each with an idempotency key; the primary
is cut mid-flow (its gateway, functions and queue contents gone: `ops regions cut`); the operator promotes the
standby (`python -m ops failover --to <standby>`, through the ops CLI as an operator runs it); the clients
retry every unanswered order, with the same key, against the standby's gateway (their list of regions) until
it answers 201. Then the standby runs every saga to its end.

What it counts: every order answered 201 must be in the standby's replicated orders log (`lost`), no key may
have made two orders (`duplicated`), every saga ends in a final status (`final_statuses`, from the standby's
own view), and each order is authorised once: the `PaymentAuthorized` facts per order in the replicated
payments log (the provider is called only for a payment request no log has yet; the fake provider lives in
each region's containers, so its own ledger cannot be read across regions: the log is what records each
reservation)."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from eventcore.write.dynamodb_store import DynamoDBEventStore
from ops.cli import main as ops_main
from ops.localregions import PRIMARY, STANDBY, start_pair
from payments import payment_id_for
from tests.support.orders import order_body

if TYPE_CHECKING:
    from pathlib import Path

    from localcloud import LocalCloud, Regions

FINAL_STATUSES = {"confirmed", "cancelled", "shipped", "delivered"}
# The pair's parameters: a promotion seen within a second, and a deadline a drill's sagas never reach.
PARAMETERS = {"ActiveRegionCacheSeconds": "1", "FulfillmentDeadlineSeconds": "600"}


@dataclass
class Client:
    """One customer's checkout: a key, retried until some region answers 201."""

    customer: str
    key: str
    order_id: str | None = None
    answers: list[int] = field(default_factory=list)


class Drill:
    def __init__(self, regions: Regions) -> None:
        self.regions = regions
        self.primary, self.standby = regions[PRIMARY], regions[STANDBY]
        self.clients: list[Client] = []
        self.duplicated = 0
        self._lock = threading.Lock()

    # ----- the clients -----

    def new_client(self) -> Client:
        client = Client(f"drill-{uuid.uuid4().hex[:8]}", f"checkout-{uuid.uuid4()}")
        with self._lock:
            self.clients.append(client)
        return client

    def place(self, client: Client, cloud: LocalCloud) -> int:
        """One attempt at `cloud`'s gateway: its status, or 0 when nothing answered (a region cut)."""
        headers = {"Authorization": f"Bearer {cloud.token(client.customer)}", "Idempotency-Key": client.key}
        try:
            response = requests.post(
                f"{cloud.gateway_url}/orders",
                json=order_body(("SKU-TEA-001", 1)),
                headers=headers,
                timeout=30,
            )
        except requests.ConnectionError:
            client.answers.append(0)
            return 0
        client.answers.append(response.status_code)
        if response.status_code == 201:
            order_id = response.json()["order_id"]
            with self._lock:
                if client.order_id not in (None, order_id):
                    self.duplicated += 1
                client.order_id = order_id
        return response.status_code

    @property
    def acknowledged(self) -> list[Client]:
        return [client for client in self.clients if client.order_id is not None]

    # ----- the operator -----

    def cut(self, region: str) -> None:
        code = ops_main([*self._ops_target(STANDBY), "regions", "cut", region])
        assert code == 0, f"ops regions cut {region}: exit {code}"

    def failover(self, to: str, *extra: str) -> tuple[int, dict[str, Any]]:
        """`python -m ops --json failover --to <to>`: its exit status and what it printed."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = ops_main([*self._ops_target(to), "--json", "failover", "--to", to, *extra])
        return status, json.loads(out.getvalue()) if out.getvalue().strip() else {}

    def _ops_target(self, region: str) -> list[str]:
        cloud = self.regions[region]
        return ["--endpoint-url", self.regions.endpoint_url, "--gateway-url", cloud.gateway_url]

    # ----- what the standby holds -----

    def order_status(self, order_id: str, region: str = STANDBY) -> str | None:
        cloud = self.regions[region]
        row = cloud.client("dynamodb").get_item(
            TableName=cloud.physical_id("OrdersView"),
            Key={"order_id": {"S": order_id}},
            ConsistentRead=True,
        )
        item = row.get("Item")
        return item["status"]["S"] if item else None

    def orders_in_log(self) -> set[str]:
        log = self.standby.stack.outputs()["OrdersEventLogTable"]
        found: set[str] = set()
        paginator = self.standby.client("dynamodb").get_paginator("scan")
        for page in paginator.paginate(
            TableName=log,
            ConsistentRead=True,
            FilterExpression="begins_with(#s, :order) AND #v = :first",
            ExpressionAttributeNames={"#s": "stream", "#v": "version"},
            ExpressionAttributeValues={":order": {"S": "Order-"}, ":first": {"N": "1"}},
        ):
            found.update(item["stream"]["S"].removeprefix("Order-") for item in page["Items"])
        return found

    def authorizations(self, order_id: str) -> int:
        table = self.standby.stack.outputs()["PaymentsEventLogTable"]
        store = DynamoDBEventStore(table, self.standby.client("dynamodb"))
        return sum(
            1
            for commit in store.read(f"Payment-{payment_id_for(order_id)}")
            for event in commit.events
            if event.event_type == "PaymentAuthorized"
        )

    def wait_for_final_statuses(self, timeout: float) -> dict[str, str | None]:
        """Every acknowledged order's status in the standby's view, once all are final or at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = {c.order_id: self.order_status(c.order_id) for c in self.acknowledged if c.order_id}
            if all(status in FINAL_STATUSES for status in statuses.values()) or time.monotonic() > deadline:
                return statuses
            time.sleep(0.5)


def start_drill_pair(function_logs: Path | None = None, output: io.StringIO | None = None) -> Regions:
    return start_pair(
        ports=(0, 0),
        moto_port=0,
        common=PARAMETERS,
        output=output or io.StringIO(),
        function_logs=function_logs,
    )


def run_drill(
    regions: Regions,
    *,
    before_cut: int,
    after_cut: int,
    interval: float,
    settle_timeout: float = 300.0,
) -> dict[str, Any]:
    """The drill (module docstring): `before_cut` clients start at `interval` s apart against the primary,
    then it is cut and `after_cut` more start; the last JSON figures."""
    drill = Drill(regions)
    waiting: list[Client] = []
    for _ in range(before_cut):  # the primary takes orders at a steady rate, sagas in flight behind them
        client = drill.new_client()
        if drill.place(client, drill.primary) != 201:
            waiting.append(client)
        time.sleep(interval)
    in_flight = [  # the sagas not over when the primary goes (its view may lag: at least these)
        c
        for c in drill.acknowledged
        if c.order_id and drill.order_status(c.order_id, PRIMARY) not in FINAL_STATUSES
    ]
    cut_at = time.monotonic()
    drill.cut(PRIMARY)
    # The clients: the primary does not answer; they go on against the standby (503 until it is promoted).
    waiting += [drill.new_client() for _ in range(after_cut)]
    refused_while_passive = sum(1 for client in waiting[:1] if drill.place(client, drill.standby) == 503)
    promotion, resumed = drill.failover(STANDBY)
    first_after_cut: float | None = None
    deadline = time.monotonic() + 120
    while waiting and time.monotonic() < deadline:
        still: list[Client] = []
        for client in waiting:
            if drill.place(client, drill.standby) == 201:
                first_after_cut = first_after_cut or time.monotonic() - cut_at
            else:
                still.append(client)
        waiting = still
        if waiting:
            time.sleep(interval)
    second_promotion, _ = drill.failover(STANDBY)
    statuses = drill.wait_for_final_statuses(settle_timeout)
    in_log = drill.orders_in_log()
    acknowledged = drill.acknowledged
    lost = [c.order_id for c in acknowledged if c.order_id not in in_log]
    order_ids = [c.order_id for c in acknowledged]
    authorizations = Counter(drill.authorizations(order_id) for order_id in order_ids if order_id)
    return {
        "acknowledged_orders": len(acknowledged),
        "lost": len(lost),
        "duplicated": drill.duplicated + (len(set(order_ids)) != len(order_ids)),
        "final_statuses": dict(Counter(str(status) for status in statuses.values())),
        "sagas_not_in_a_final_status": sum(1 for s in statuses.values() if s not in FINAL_STATUSES),
        "provider_authorizations_per_order": (
            next(iter(authorizations)) if len(authorizations) == 1 else dict(authorizations)
        ),
        "seconds_to_first_order_after_cut": round(first_after_cut or -1.0, 3),
        "acknowledged_before_cut": before_cut
        - sum(1 for c in drill.clients[:before_cut] if 201 not in c.answers[:1]),
        "sagas_in_flight_at_cut": len(in_flight),
        "processes_resumed": resumed.get("in_flight"),
        "commands_sent_again": resumed.get("commands"),
        "never_answered": len(waiting),
        "orders_in_standby_log": len(in_log),
        "standby_refused_while_passive": refused_while_passive,
        "promotion_exit_status": promotion,
        "second_promotion_exit_status": second_promotion,
    }
