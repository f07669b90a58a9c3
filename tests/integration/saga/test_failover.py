"""A failover drill on moto (docs/failover.md), short enough for the suite: two regions of the whole saga,
the primary and the standby, sharing the replicated logs (one table each: what MRSC makes of a log, a
conditional write checked against both and the same stream records in both) with streams, queues, views
and functions of their own. Orders are placed in the primary and are part-way through their saga when it
is cut (its queues' contents gone); the standby is promoted by `ops.failover`, clients retry with their
idempotency keys against it, and every acknowledged order ends in a final status, paid for once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventcore.regions import ActiveRegion, ActiveRegionTable, PromotionRefusedError, reset_active_region
from ops.failover import RegionEnd, failover
from orders.fulfillment.outbound import QUEUES
from payments import payment_id_for
from tests.integration.saga.conftest import BASKET, Saga, new_customer
from tests.support.aws import create_table
from tests.support.lambdas import http_event

PRIMARY, STANDBY = "eu-west-1", "eu-central-1"
ORDERS = 6
FINAL = {"FulfillmentCompleted", "FulfillmentCancelled"}


class Pair:
    """The two regions and the record of which one is active. Both regions' functions run in this one
    process, so each acts as its region's before it runs (`in_region`)."""

    def __init__(self, dynamodb: Any, pricing_parameters: dict, monkeypatch: pytest.MonkeyPatch, provider):
        self.dynamodb = dynamodb
        self.record = ActiveRegionTable(
            create_table(dynamodb, "ActiveRegionRecord", "active-region"), dynamodb
        )
        self.primary = Saga(monkeypatch, dynamodb, provider, pricing_parameters, suffix="-primary")
        self.standby = Saga(
            monkeypatch,
            dynamodb,
            provider,
            pricing_parameters,
            suffix="-standby",
            replicated_logs=self.primary.logs,
        )
        self.reachable = {PRIMARY: True, STANDBY: True}

    def in_region(self, region: str) -> Saga:
        reset_active_region(ActiveRegion(region, self.record, cache_seconds=0))
        return self.primary if region == PRIMARY else self.standby

    def end(self, region: str) -> RegionEnd:
        saga = self.primary if region == PRIMARY else self.standby
        return RegionEnd(
            name=region,
            dynamodb=self.dynamodb,
            sqs=saga.sqs,
            orders_log=saga.logs["Orders"],
            active_region_table=self.record.table,
            queue_urls={queue: saga.queues[queue][0] for queue in QUEUES},
            reachable=lambda: self.reachable[region],
        )

    def cut(self, region: str) -> None:
        """The region is gone: its gateway and functions no longer answer, its queues' contents are lost."""
        saga = self.primary if region == PRIMARY else self.standby
        for queue, dead_letters in saga.queues.values():
            saga.sqs.purge_queue(QueueUrl=queue)
            saga.sqs.purge_queue(QueueUrl=dead_letters)
        self.reachable[region] = False


@pytest.fixture
def pair(dynamodb, pricing_parameters, personal_data_keys, monkeypatch, provider):
    pair = Pair(dynamodb, pricing_parameters, monkeypatch, provider)
    pair.record.promote(PRIMARY, seen=pair.record.read())
    yield pair
    reset_active_region(None)


def place(saga: Saga, customer: str, key: str) -> tuple[int, dict[str, Any]]:
    event = http_event("POST", "/orders", body=BASKET, customer=customer, headers={"idempotency-key": key})
    response = saga.api.lambda_handler(event, saga.context)
    return response["statusCode"], json.loads(response.get("body") or "{}")


def test_the_standby_takes_over_and_no_acknowledged_order_is_lost_or_paid_twice(pair, provider):
    # GIVEN orders placed in the primary, acknowledged, and part-way through their saga
    primary = pair.in_region(PRIMARY)
    clients = [(new_customer(), f"checkout-{n}") for n in range(ORDERS)]
    acknowledged: dict[str, str] = {}
    for customer, key in clients[:-1]:
        status, order = place(primary, customer, key)
        assert status == 201, order
        acknowledged[key] = order["order_id"]
    primary.step()  # one round: asked for, some answered, the answers not yet heard
    # AND the last one recorded, its answer lost with the region
    last_customer, last_key = clients[-1]
    assert place(primary, last_customer, last_key)[0] == 201
    # AND the standby meanwhile: its views kept current, commands refused, its reactors acting on nothing
    standby = pair.in_region(STANDBY)
    calls = provider_calls(provider)
    standby.step()
    assert standby.order_commands.invocations == 0  # nothing was sent to its queues
    status, problem = place(standby, new_customer(), "too-early")
    assert status == 503
    assert "standby" in problem["message"]
    assert provider_calls(provider) == calls
    # WHEN the primary is cut mid-flow
    pair.cut(PRIMARY)
    # THEN promoting the standby while the primary still answered would have been refused (split brain)
    pair.reachable[PRIMARY] = True
    with pytest.raises(PromotionRefusedError, match=f"{PRIMARY} is still active and reachable"):
        failover(pair.end(STANDBY), pair.end(PRIMARY))
    pair.reachable[PRIMARY] = False
    # WHEN the standby is promoted, with the primary unreachable
    resumed = failover(pair.end(STANDBY), pair.end(PRIMARY))
    # THEN every process in flight is resumed from the replicated log (what the standby's process manager
    # recorded from the facts it heard while passive too: the last order's start, answers the primary's
    # never heard), and the commands its events call for are sent again, deadlines re-armed
    assert resumed.region == STANDBY
    assert resumed.in_flight == ORDERS
    # (each process's deadline, and the look at its authorisation's hold for each one authorised)
    assert ORDERS <= resumed.by_type["CheckDeadline"] <= 2 * ORDERS
    assert resumed.by_type["RequestPayment"] == ORDERS
    # AND a second promotion is refused
    with pytest.raises(PromotionRefusedError, match=f"{STANDBY} is already the active region"):
        failover(pair.end(STANDBY), pair.end(PRIMARY))
    # WHEN the clients retry against the standby with their idempotency keys
    standby = pair.in_region(STANDBY)
    for customer, key in clients:
        status, order = place(standby, customer, key)
        assert status == 201, order
        assert acknowledged.setdefault(key, order["order_id"]) == order["order_id"]
    standby.run()
    # THEN no acknowledged order is lost, none is there twice, every saga ended, each paid for once
    assert len(set(acknowledged.values())) == ORDERS
    for order_id in acknowledged.values():
        assert standby.order_events(order_id)[0][0] == "OrderCreated"
        assert FINAL & set(standby.process_events(order_id)), standby.process_events(order_id)
        assert standby.order_events(order_id)[-1][0] in ("OrderConfirmed", "OrderCancelled")
        assert provider.ledger[payment_id_for(order_id)].authorizations == 1
    assert orders_in_log(standby) == ORDERS
    assert not any(feed.parked for feed in standby.fulfillment_feeds)


def provider_calls(provider) -> int:
    return sum(entry.calls for entry in provider.ledger.values())


def orders_in_log(saga: Saga) -> int:
    items = saga.dynamodb.scan(
        TableName=saga.logs["Orders"],
        FilterExpression="begins_with(#s, :order) AND #v = :first",
        ExpressionAttributeNames={"#s": "stream", "#v": "version"},
        ExpressionAttributeValues={":order": {"S": "Order-"}, ":first": {"N": "1"}},
    )["Items"]
    return len(items)
