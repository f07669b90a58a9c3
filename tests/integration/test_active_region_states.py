"""Which region may act, in every state of the active-region record (docs/failover.md): no record yet, a
region active, a planned move under way (no region active; the region left draining its command queues, then
not), and a record that cannot be read (DynamoDB throttling while a container's cache has expired). Where a
region may not act, its API answers 503 with `Retry-After` in the one error shape, and its command consumers
hold the batch (every record failed, delivered again later) rather than crash."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from eventcore.regions import (
    ActiveRegion,
    ActiveRegionTable,
    ActiveRegionUnreadableError,
    PromotionRefusedError,
    RegionPassiveError,
    reset_active_region,
)
from tests.integration.test_payment_commands_consumer import Payments, failed, request
from tests.support.aws import create_table
from tests.support.lambdas import http_event, load_function
from tests.support.orders import order_body

if TYPE_CHECKING:
    from collections.abc import Iterator

PRIMARY, STANDBY = "eu-west-1", "eu-central-1"
BASKET = order_body(("SKU-TEA-001", 1))


@pytest.fixture
def record(dynamodb) -> ActiveRegionTable:
    return ActiveRegionTable(create_table(dynamodb, "ActiveRegionRecord", "active-region"), dynamodb)


@pytest.fixture
def as_region() -> Iterator[Any]:
    """Make this process a function of `region`, reading `table` with a cache of `cache_seconds`."""

    def become(region: str, table: ActiveRegionTable, cache_seconds: float = 5) -> ActiveRegion:
        view = ActiveRegion(region, table, cache_seconds=cache_seconds)
        reset_active_region(view)
        return view

    yield become
    reset_active_region(None)


def place(api: Any, context: Any, key: str) -> dict[str, Any]:
    event = http_event("POST", "/orders", body=BASKET, headers={"idempotency-key": key})
    return api.lambda_handler(event, context)


def refused_503(response: dict[str, Any]) -> str:
    """The 503's message, once its shape is checked: Retry-After, the one error shape."""
    assert response["statusCode"] == 503, response
    assert response["headers"]["Retry-After"] == "5"
    problem = json.loads(response["body"])
    assert problem == {"message": problem["message"], "errors": []}
    return str(problem["message"])


class TestNoRegionActive:
    def test_a_replicated_stack_whose_record_is_empty_acts_nowhere(self, record):
        # GIVEN a replicated stack whose record was never written (no promotion yet)
        assert record.read().region is None
        # THEN neither region is active, and each says why
        for region in (PRIMARY, STANDBY):
            view = ActiveRegion(region, record)
            assert not view.is_active()
            with pytest.raises(RegionPassiveError, match="no region is active yet"):
                view.require_acting()

    def test_a_stack_in_one_region_has_no_record_and_is_always_active(self):
        view = ActiveRegion.from_environment({"AWS_REGION": PRIMARY})
        assert view.table is None
        assert view.is_active()
        view.require_acting()

    def test_a_planned_move_leaves_no_region_active_and_only_the_region_left_drains(self, record):
        # GIVEN the primary active, then demoted for a planned move to the standby, draining
        record.promote(PRIMARY, seen=record.read())
        moving = record.demote(STANDBY, seen=record.read(), draining=True)
        assert record.read() == moving
        assert (moving.region, moving.moving_to, moving.draining) == (None, STANDBY, PRIMARY)
        primary, standby = ActiveRegion(PRIMARY, record), ActiveRegion(STANDBY, record)
        # THEN no region takes commands; the primary's command consumers still apply what they were sent
        for view in (primary, standby):
            assert not view.is_active()
            with pytest.raises(RegionPassiveError, match=f"planned move goes to {STANDBY}"):
                view.require_active()
        primary.require_acting()
        with pytest.raises(RegionPassiveError):
            standby.require_acting()
        # WHEN the drain ends
        stopped = record.stop_draining(seen=record.read())
        # THEN nothing acts anywhere, until the promotion
        assert (stopped.region, stopped.moving_to, stopped.draining) == (None, STANDBY, None)
        with pytest.raises(RegionPassiveError):
            ActiveRegion(PRIMARY, record).require_acting()
        promoted = record.promote(STANDBY, seen=record.read())
        assert (promoted.region, promoted.epoch, promoted.moving_to) == (STANDBY, 4, None)
        ActiveRegion(STANDBY, record).require_active()

    def test_a_move_from_a_stale_read_is_refused(self, record):
        record.promote(PRIMARY, seen=record.read())
        seen = record.read()
        record.demote(STANDBY, seen=seen, draining=False)
        with pytest.raises(PromotionRefusedError, match="changed while moving"):
            record.demote(STANDBY, seen=seen, draining=False)
        with pytest.raises(PromotionRefusedError, match="changed while promoting"):
            record.promote(STANDBY, seen=seen)

    def test_the_api_of_both_regions_answers_503_while_no_region_is_active(
        self,
        record,
        as_region,
        orders_log,
        pricing_parameters,
        personal_data_keys,
        monkeypatch,
        lambda_context,
    ):
        record.promote(PRIMARY, seen=record.read())
        record.demote(STANDBY, seen=record.read(), draining=True)
        monkeypatch.setenv("EVENT_LOG_TABLE", orders_log)
        api = load_function("orders_api")
        for region in (PRIMARY, STANDBY):
            as_region(region, record)
            message = refused_503(place(api, lambda_context, f"moving-{region}"))
            assert f"moves to {STANDBY}" in message
        assert boto3.client("dynamodb").scan(TableName=orders_log, Select="COUNT")["Count"] == 0

    def test_consumers_hold_their_batches_except_in_the_draining_region(
        self, record, as_region, dynamodb, monkeypatch
    ):
        record.promote(PRIMARY, seen=record.read())
        record.demote(STANDBY, seen=record.read(), draining=True)
        payments = Payments(monkeypatch, dynamodb)
        # the region the move goes to holds
        as_region(STANDBY, record)
        held = [request("order-moving-1")]
        assert failed(payments.handle(held)) == [held[0]["messageId"]]
        assert payments.provider.calls == []
        # the region left applies what was sent to it, while it drains
        as_region(PRIMARY, record)
        assert failed(payments.handle(held)) == []
        assert len(payments.provider.calls) == 1
        # and holds once the drain has ended
        record.stop_draining(seen=record.read())
        as_region(PRIMARY, record)
        later = [request("order-moving-2")]
        assert failed(payments.handle(later)) == [later[0]["messageId"]]
        assert len(payments.provider.calls) == 1


def throttled(table: str, times: int = 1) -> Any:
    """A DynamoDB client whose next `times` GetItems are throttled, then answer an active primary."""
    client = boto3.client("dynamodb")
    stubber = Stubber(client)
    for _ in range(times):
        stubber.add_client_error(
            "get_item",
            service_error_code="ThrottlingException",
            service_message="Rate of requests exceeds the allowed throughput.",
            http_status_code=400,
        )
    stubber.add_response(
        "get_item",
        {"Item": {"pk": {"S": "active-region"}, "region": {"S": PRIMARY}, "epoch": {"N": "1"}}},
        {"TableName": table, "Key": {"pk": {"S": "active-region"}}, "ConsistentRead": True},
    )
    stubber.activate()
    return client


class TestAnUnreadableRecord:
    def test_is_no_permission_and_is_not_kept(self, record):
        # GIVEN the active region's container, its cached read expired, the record's table throttled once
        now = [0.0]
        table = ActiveRegionTable(record.table, throttled(record.table))
        view = ActiveRegion(PRIMARY, table, cache_seconds=5, monotonic=lambda: now[0])
        # WHEN it asks whether it may act
        with pytest.raises(ActiveRegionUnreadableError, match="ThrottlingException") as refused:
            view.require_acting()
        # THEN it is refused as a passive region is, to retry after the cache's age
        assert isinstance(refused.value, RegionPassiveError)
        assert refused.value.retry_after == 5
        # AND the failure is not cached: the next call reads again, and acts
        view.require_active()

    def test_the_api_answers_503_with_retry_after_in_the_one_error_shape(
        self,
        record,
        as_region,
        orders_log,
        pricing_parameters,
        personal_data_keys,
        monkeypatch,
        lambda_context,
    ):
        # GIVEN the active region's orders API, the record's table throttled
        monkeypatch.setenv("EVENT_LOG_TABLE", orders_log)
        api = load_function("orders_api")
        as_region(PRIMARY, ActiveRegionTable(record.table, throttled(record.table)))
        # WHEN a customer places an order
        response = place(api, lambda_context, "throttled-1")
        # THEN 503 + Retry-After, not a 500, and nothing recorded
        assert "cannot be read" in refused_503(response)
        assert boto3.client("dynamodb").scan(TableName=orders_log, Select="COUNT")["Count"] == 0

    def test_a_read_is_answered_without_the_record(
        self, record, as_region, monkeypatch, lambda_context, dynamodb
    ):
        # GIVEN the inventory API, the record's table throttled
        table = create_table(dynamodb, "InventoryEventLog", "inventory-event-log")
        monkeypatch.setenv("EVENT_LOG_TABLE", table)
        api = load_function("inventory_api")
        as_region(PRIMARY, ActiveRegionTable(record.table, throttled(record.table)))
        event = http_event("GET", "/inventory/SKU-TEA-001", customer="wh-1")
        event["pathParameters"] = {"sku": "SKU-TEA-001"}
        event["requestContext"]["authorizer"]["jwt"]["scopes"] = ["orders/warehouse"]
        # THEN a read does not ask which region is active (here the route answers: no stock configuration)
        response = api.lambda_handler(event, lambda_context)
        assert "region" not in json.loads(response["body"])["message"]

    def test_a_command_consumer_holds_the_batch_and_acts_once_the_record_reads_again(
        self, record, as_region, dynamodb, monkeypatch
    ):
        # GIVEN the active region's payments consumer, the record's table throttled for one read
        payments = Payments(monkeypatch, dynamodb)
        now = [0.0]
        view = ActiveRegion(
            PRIMARY,
            ActiveRegionTable(record.table, throttled(record.table)),
            cache_seconds=5,
            monotonic=lambda: now[0],
        )
        reset_active_region(view)
        records = [request("order-throttled-1"), request("order-throttled-2")]
        # WHEN a batch arrives
        response = payments.handle(records)
        # THEN every record is failed (delivered again), nothing acted on, nothing raised
        assert failed(response) == [r["messageId"] for r in records]
        assert payments.provider.calls == []
        # AND delivered again once the record reads, each is applied once
        assert failed(payments.handle(records)) == []
        assert len(payments.provider.calls) == 2
        reset_active_region(None)
