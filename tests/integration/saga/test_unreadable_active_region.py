"""The whole saga while the active-region record cannot be read for a moment (DynamoDB throttling its
`GetItem` once a container's cache has expired, docs/failover.md): what asked is held (a consumer's batch
failed and delivered again, the process manager's record failed after its decision was recorded, its
commands sent on redelivery), nothing crashes, nothing is parked, and every order ends once the record
reads again."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from eventcore.regions import ActiveRecord, ActiveRegion, ActiveRegionTable, reset_active_region
from payments import payment_id_for
from tests.integration.saga.conftest import BASKET, Saga, new_customer
from tests.support.aws import create_table
from tests.support.lambdas import http_event

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "eu-west-1"
FINAL = {"FulfillmentCompleted", "FulfillmentCancelled"}


class Throttled(ActiveRegionTable):
    """The record's table, its next `failures` reads throttled."""

    def __init__(self, table: ActiveRegionTable, failures: int) -> None:
        super().__init__(table.table, table.client)
        self.failures = failures
        self.refused = 0

    def read(self) -> ActiveRecord:
        if self.refused < self.failures:
            self.refused += 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetItem"
            )
        return super().read()


@pytest.fixture
def record(dynamodb) -> Iterator[ActiveRegionTable]:
    table = ActiveRegionTable(create_table(dynamodb, "ActiveRegionRecord", "active-region"), dynamodb)
    table.promote(REGION, seen=table.read())
    yield table
    reset_active_region(None)


def test_a_moment_of_throttling_holds_what_asked_and_loses_nothing(
    record, dynamodb, pricing_parameters, personal_data_keys, monkeypatch, provider
):
    # GIVEN the active region's saga, three orders placed
    saga = Saga(monkeypatch, dynamodb, provider, pricing_parameters)
    reset_active_region(ActiveRegion(REGION, record, cache_seconds=0))
    placed = []
    for n in range(3):
        event = http_event(
            "POST", "/orders", body=BASKET, customer=new_customer(), headers={"idempotency-key": f"t-{n}"}
        )
        response = saga.api.lambda_handler(event, saga.context)
        assert response["statusCode"] == 201, response
        placed.append(json.loads(response["body"])["order_id"])
    # WHEN the record's next two reads are throttled (every check reads: no cache)
    throttled = Throttled(record, failures=2)
    reset_active_region(ActiveRegion(REGION, throttled, cache_seconds=0))
    saga.run()
    # THEN both reads were refused, and the saga went on once the record read again
    assert throttled.refused == 2
    for order_id in placed:
        assert FINAL & set(saga.process_events(order_id)), saga.process_events(order_id)
        assert provider.ledger[payment_id_for(order_id)].authorizations == 1
    # AND nothing was parked: no crash loop, no batch given up
    assert not any(feed.parked for feed in saga.fulfillment_feeds)
    for queue in saga.queues:
        assert saga.parked(queue) == [], queue
