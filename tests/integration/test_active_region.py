"""One active region at a time (docs/failover.md): the record of which region is active, moved only by a
conditional write; the standby refuses commands with 503 and `Retry-After` in the one error shape, answers
reads, and its consumers that act hold every batch (nothing acted on, nothing lost)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from eventcore.regions import (
    ActiveRegion,
    ActiveRegionTable,
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


@pytest.fixture
def record(dynamodb) -> ActiveRegionTable:
    return ActiveRegionTable(create_table(dynamodb, "ActiveRegionRecord", "active-region"), dynamodb)


@pytest.fixture
def standby(record: ActiveRegionTable) -> Iterator[ActiveRegion]:
    """This process is a function of the standby region, the primary being active."""
    record.promote(PRIMARY, seen=record.read())
    region = ActiveRegion(STANDBY, record, cache_seconds=5)
    reset_active_region(region)
    yield region
    reset_active_region(None)


class TestTheRecord:
    def test_a_first_promotion_makes_a_region_active(self, record):
        # GIVEN no region active yet
        assert record.read().region is None
        # WHEN the primary is promoted
        after = record.promote(PRIMARY, seen=record.read())
        # THEN it is the active one, at the first epoch
        assert record.read() == after
        assert (after.region, after.epoch) == (PRIMARY, 1)

    def test_a_second_promotion_of_the_same_region_is_refused_with_a_clear_message(self, record):
        record.promote(PRIMARY, seen=record.read())
        with pytest.raises(PromotionRefusedError, match=f"{PRIMARY} is already the active region"):
            record.promote(PRIMARY, seen=record.read())
        assert record.read().epoch == 1

    def test_a_promotion_from_a_stale_read_is_refused(self, record):
        # GIVEN two operators who read the record at the same moment
        seen = record.read()
        record.promote(STANDBY, seen=seen)
        # WHEN the second promotes from what it read
        # THEN the conditional write refuses it: the record moved meanwhile
        with pytest.raises(PromotionRefusedError, match="changed while promoting"):
            record.promote(PRIMARY, seen=seen)
        assert record.read().region == STANDBY

    def test_a_promotion_is_seen_once_the_cache_has_aged(self, record):
        record.promote(PRIMARY, seen=record.read())
        now = [0.0]
        region = ActiveRegion(STANDBY, record, cache_seconds=5, monotonic=lambda: now[0])
        assert not region.is_active()
        record.promote(STANDBY, seen=record.read())
        now[0] = 4.9
        assert not region.is_active()  # still the record it read
        now[0] = 5.0
        assert region.is_active()

    def test_a_stack_in_one_region_is_always_active(self):
        region = ActiveRegion.from_environment({"AWS_REGION": PRIMARY, "ACTIVE_REGION_TABLE": ""})
        assert region.table is None
        region.require_active()


class TestTheStandbyApi:
    def test_refuses_a_command_with_503_retry_after_in_the_one_error_shape(
        self, standby, orders_log, pricing_parameters, personal_data_keys, monkeypatch, lambda_context
    ):
        # GIVEN the orders API of the standby region
        monkeypatch.setenv("EVENT_LOG_TABLE", orders_log)
        api = load_function("orders_api")
        # WHEN a customer places an order there
        body = order_body(("SKU-TEA-001", 1))
        event = http_event("POST", "/orders", body=body, headers={"idempotency-key": "standby-1"})
        response = api.lambda_handler(event, lambda_context)
        # THEN it is refused, to be retried, and nothing is recorded
        assert response["statusCode"] == 503
        assert response["headers"]["Retry-After"] == "5"
        problem = json.loads(response["body"])
        assert problem == {"message": problem["message"], "errors": []}
        assert "standby" in problem["message"]
        assert orders_log_is_empty(orders_log)

    def test_answers_reads_from_its_own_views(self, standby, monkeypatch, lambda_context, dynamodb):
        # GIVEN the inventory API of the standby region (a read of its own log)
        table = create_table(dynamodb, "InventoryEventLog", "inventory-event-log")
        monkeypatch.setenv("EVENT_LOG_TABLE", table)
        api = load_function("inventory_api")
        event = http_event("GET", "/inventory/SKU-TEA-001", customer="wh-1")
        event["pathParameters"] = {"sku": "SKU-TEA-001"}
        event["requestContext"]["authorizer"]["jwt"]["scopes"] = ["orders/warehouse"]
        # WHEN staff read a SKU's stock
        response = api.lambda_handler(event, lambda_context)
        # THEN the route answers it (here without a stock configuration), the standby does not refuse it
        assert "standby" not in json.loads(response["body"])["message"]


def orders_log_is_empty(table: str) -> bool:
    import boto3

    return boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] == 0


class TestTheStandbyConsumers:
    def test_hold_every_message_and_call_no_provider(self, standby, dynamodb, monkeypatch):
        # GIVEN the payments consumer of the standby region, and two payment requests
        payments = Payments(monkeypatch, dynamodb)
        records: list[dict[str, Any]] = [request("order-1"), request("order-2")]
        # WHEN a batch arrives while it is passive
        response = payments.handle(records)
        # THEN every message is failed (delivered again later), and nothing was acted on
        assert failed(response) == [record["messageId"] for record in records]
        assert payments.provider.calls == []
        assert payments.events("order-1") == []

    def test_act_once_the_region_is_promoted(self, standby, record, dynamodb, monkeypatch):
        payments = Payments(monkeypatch, dynamodb)
        records = [request("order-3")]
        assert failed(payments.handle(records)) == [records[0]["messageId"]]
        # WHEN the standby is promoted and the record is read again
        record.promote(STANDBY, seen=record.read())
        reset_active_region(ActiveRegion(STANDBY, record, cache_seconds=5))
        # THEN the message delivered again is applied, once
        assert failed(payments.handle(records)) == []
        assert payments.provider.calls == [("authorize", payments.provider.calls[0][1])]


def test_the_passive_error_says_who_is_active():
    error = RegionPassiveError(STANDBY, PRIMARY, retry_after=5)
    assert f"{PRIMARY} is active" in str(error)


def test_the_failover_command_needs_a_pair(capsys):
    from ops.cli import USAGE, main

    nothing = "http://127.0.0.1:9"  # the discard port: no local cloud answers there
    assert main(["--gateway-url", nothing, "failover", "--to", STANDBY]) == USAGE
    error = capsys.readouterr().err
    assert "a replicated pair" in error
    assert "make run-regions" in error
