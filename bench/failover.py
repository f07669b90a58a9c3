"""A failover drill (docs/failover.md): clients place orders in the primary at a steady rate, the primary is
cut mid-flow (its queues' contents gone, its API no longer answering), the standby is promoted with
`ops.failover`, and the clients retry with their idempotency keys against the standby until it takes them.

It runs on moto in this process, as the in-suite drill does (tests/integration/saga/test_failover.py) with
more orders: two regions of the whole saga (each its own streams, queues, views and functions) sharing the
replicated logs, one table each (what MRSC makes of a log: a conditional write checked against both, the
same stream records in both). It is not a two-region local cloud with a gateway each: that is not built.
"Steady rate" is in rounds: each round the clients place a few orders and both regions' triggers run once.

The last line is JSON: acknowledged_orders, lost (answered 201 but not in the standby's log: goal 0),
duplicated (an idempotency key that made two orders: goal 0), final_statuses (the orders' statuses once the
standby settled; every saga ends in a final status), provider_authorizations_per_order (1), and
seconds_to_first_order_after_cut (measured on this machine, no goal)."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import offline  # noqa: F401  (before the layers are imported: puts them on the path; fake AWS account)

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / name) for name in ("payments", "inventory", "shipping")]

import pytest  # noqa: E402

from eventcore.regions import reset_active_region  # noqa: E402
from ops.failover import failover  # noqa: E402
from payments import FakePaymentProvider, payment_id_for  # noqa: E402
from tests.integration.saga.conftest import DECLINE_ABOVE, new_customer  # noqa: E402
from tests.integration.saga.test_failover import PRIMARY, STANDBY, Pair, place  # noqa: E402
from tests.support.aws import (  # noqa: E402
    create_personal_data_vault,
    fake_account_environment,
    moto,
    put_pricing_parameters,
)

ORDERS_PER_ROUND = 4
ROUNDS_BEFORE_CUT = 6
ROUNDS_AFTER_CUT = 4
FINAL_PROCESS = {"FulfillmentCompleted", "FulfillmentCancelled"}


def drill() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as monkeypatch, moto():
        fake_account_environment(monkeypatch)
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")  # the functions' own lines: not this report
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        import boto3

        provider = FakePaymentProvider(decline_above=DECLINE_ABOVE)
        parameters = put_pricing_parameters(monkeypatch)
        create_personal_data_vault(monkeypatch)
        pair = Pair(boto3.client("dynamodb"), parameters, monkeypatch, provider)
        pair.record.promote(PRIMARY, seen=pair.record.read())
        try:
            return run(pair, provider)
        finally:
            reset_active_region(None)


def run(pair: Pair, provider: FakePaymentProvider) -> dict[str, Any]:
    acknowledged: dict[str, str] = {}  # idempotency key -> order id, as answered 201
    waiting: list[tuple[str, str]] = []  # (customer, key) not yet answered 201
    duplicated = 0
    for _ in range(ROUNDS_BEFORE_CUT):  # the primary takes orders, the standby follows
        primary = pair.in_region(PRIMARY)
        for _ in range(ORDERS_PER_ROUND):
            customer, key = new_customer(), f"checkout-{len(acknowledged) + len(waiting)}"
            status, order = place(primary, customer, key)
            if status == 201:
                acknowledged[key] = order["order_id"]
            else:
                waiting.append((customer, key))
        primary.step()
        pair.in_region(STANDBY).step()
    cut_at = time.monotonic()
    pair.cut(PRIMARY)
    first_after_cut: float | None = None
    promoted = False
    for _ in range(ROUNDS_AFTER_CUT):  # new clients and the waiting ones try the standby
        waiting += [
            (new_customer(), f"checkout-{len(acknowledged) + len(waiting) + n}")
            for n in range(ORDERS_PER_ROUND)
        ]
        standby = pair.in_region(STANDBY)
        still: list[tuple[str, str]] = []
        for customer, key in waiting:
            status, order = place(standby, customer, key)
            if status != 201:
                still.append((customer, key))
                continue
            if first_after_cut is None:
                first_after_cut = time.monotonic() - cut_at
            if acknowledged.setdefault(key, order["order_id"]) != order["order_id"]:
                duplicated += 1
        waiting = still
        if not promoted:  # the operator: the primary does not answer, so the standby is promoted
            failover(pair.end(STANDBY), pair.end(PRIMARY))
            promoted = True
        standby.step()
    standby = pair.in_region(STANDBY)
    for customer, key in waiting:  # the last retries
        status, order = place(standby, customer, key)
        assert status == 201, order
        if acknowledged.setdefault(key, order["order_id"]) != order["order_id"]:
            duplicated += 1
    standby.run(rounds=400)
    statuses: Counter[str] = Counter()
    lost = 0
    unfinished = 0
    authorizations: Counter[int] = Counter()
    for order_id in acknowledged.values():
        events = standby.order_events(order_id)
        if not events or events[0][0] != "OrderCreated":
            lost += 1
            continue
        statuses[events[-1][0]] += 1
        if not FINAL_PROCESS & set(standby.process_events(order_id)):
            unfinished += 1
        entry = provider.ledger.get(payment_id_for(order_id))
        authorizations[entry.authorizations if entry else 0] += 1
    return {
        "acknowledged_orders": len(acknowledged),
        "lost": lost,
        "duplicated": duplicated + (len(set(acknowledged.values())) < len(acknowledged)),
        "final_statuses": dict(statuses),
        "sagas_not_in_a_final_status": unfinished,
        "provider_authorizations_per_order": (
            next(iter(authorizations)) if len(authorizations) == 1 else dict(authorizations)
        ),
        "seconds_to_first_order_after_cut": round(first_after_cut or -1.0, 3),
        "orders_in_standby_log": sum(statuses.values()),
    }


def main() -> None:
    started = time.monotonic()
    result = drill()
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
