"""The read side on moto: the orders log (fed through the real command API), the OrdersView table (the blue
generation; the green one's table is created by the tests that build it) and its generations registry, the
order-events Kinesis stream and the SalesAnalytics table, all built from template.yaml, and each read-side
function loaded through its real handler with the environment the template gives it."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from eventcore import DynamoDBEventStore
from eventcore.personal_data import PersonalDataVault
from eventcore.read.generations.registry import SsmGenerationRegistry
from eventcore.read.view_store import DynamoDBViewStore, from_item
from orders.personal_details import for_owner
from orders.read_model import order_projection
from tests.support.aws import (
    create_personal_data_vault,
    create_table,
    put_pricing_parameters,
    resource,
    template,
)
from tests.support.lambdas import LambdaContext, http_event, load_function
from tests.support.read_side import ddb_event, deliver, function_environment, read_kinesis, read_log_stream

BASKET: dict[str, Any] = {
    "lines": [{"sku": "SKU-TEA-001", "quantity": 2}, {"sku": "SKU-MUG-001", "quantity": 1}],
    "shipping_address": {
        "name": "Alice Example",
        "line1": "Oudegracht 1",
        "city": "Utrecht",
        "postal_code": "3511 AA",
        "country": "NL",
    },
    "email": "alice@example.com",
    "campaign_code": "WELCOME10",
}
ORDER_EVENTS = "order-events"
GREEN_TABLE = "orders-view-green"


def resolved(value: Any, parameters: dict[str, Any]) -> Any:
    """A template value with a `Ref` to a parameter replaced by the parameter's default."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]["Default"]
    return value


def template_env(monkeypatch: pytest.MonkeyPatch, logical_id: str, **resolved: str) -> None:
    """The function's literal environment from the template; Refs replaced by the test's resource names."""
    for name, value in function_environment(logical_id).items():
        if name in resolved:
            monkeypatch.setenv(name, resolved[name])
        elif isinstance(value, str):
            monkeypatch.setenv(name, value)


@dataclass
class ReadSide:
    """The command API writing the log, and every read-side handler, with helpers to move the streams. Each
    handler module is loaded (a cold start) the first time a test uses it, not before."""

    dynamodb: Any
    log_table: str
    view_table: str
    registry_parameter: str
    context: LambdaContext
    green_table: str = GREEN_TABLE
    delivered: set[str] = field(default_factory=set)

    @functools.cached_property
    def api(self) -> Any:
        return load_function("orders_api")

    @functools.cached_property
    def projector(self) -> Any:
        return load_function("order_projector")

    @functools.cached_property
    def publisher(self) -> Any:
        return load_function("event_publisher")

    @functools.cached_property
    def analytics(self) -> Any:
        return load_function("sales_analytics_projector")

    @functools.cached_property
    def query(self) -> Any:
        return load_function("orders_query_api")

    @property
    def store(self) -> DynamoDBEventStore:
        return DynamoDBEventStore(self.log_table, self.dynamodb)

    @property
    def views(self) -> DynamoDBViewStore:
        return DynamoDBViewStore(self.view_table, self.dynamodb, key_attribute="order_id")

    @property
    def registry(self) -> SsmGenerationRegistry:
        return SsmGenerationRegistry(self.registry_parameter, boto3.client("ssm"))

    def create_green(self) -> str:
        return create_table(self.dynamodb, "OrdersViewGreen", self.green_table)

    # -- the write side, through its API ------------------------------------------------------------------

    def place(self, customer: str = "customer-alice", body: dict | None = None) -> dict[str, Any]:
        response = self.api.lambda_handler(
            http_event("POST", "/orders", body=body or BASKET, customer=customer), self.context
        )
        assert response["statusCode"] == 201, response
        return json.loads(response["body"])

    def cancel(self, order_id: str, customer: str = "customer-alice") -> dict[str, Any]:
        event = http_event("POST", f"/orders/{order_id}/cancel", customer=customer)
        event["pathParameters"] = {"order_id": order_id}
        response = self.api.lambda_handler(event, self.context)
        assert response["statusCode"] == 200, response
        return json.loads(response["body"])

    # -- the streams -----------------------------------------------------------------------------------------

    def log_records(self) -> list[dict[str, Any]]:
        return read_log_stream(self.dynamodb, boto3.client("dynamodbstreams"), self.log_table)

    def project(self, records: list[dict[str, Any]] | None = None, batch_size: int = 100) -> int:
        records = self.log_records() if records is None else records
        return deliver(
            lambda batch: self.projector.lambda_handler(ddb_event(batch), self.context), records, batch_size
        )

    def project_new(self) -> int:
        """Deliver only the records not delivered by this method before, as a checkpointed mapping does."""
        records = [r for r in self.log_records() if r["dynamodb"]["SequenceNumber"] not in self.delivered]
        self.delivered.update(r["dynamodb"]["SequenceNumber"] for r in records)
        return self.project(records) if records else 0

    def publish(self, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        records = self.log_records() if records is None else records
        return self.publisher.lambda_handler(ddb_event(records), self.context)

    def published(self) -> dict[str, list[dict[str, Any]]]:
        """Kinesis records per shard, as Lambda delivers them to a consumer."""
        return read_kinesis(boto3.client("kinesis"), ORDER_EVENTS)

    def count_sales(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.analytics.lambda_handler({"Records": records}, self.context)

    # -- reading back ----------------------------------------------------------------------------------------

    def view_rows(self, table: str | None = None) -> dict[str, dict[str, Any]]:
        items = self.dynamodb.scan(TableName=table or self.view_table, ConsistentRead=True)["Items"]
        return {row["order_id"]: row for row in map(from_item, items)}

    def owner_view(self, document: dict[str, Any]) -> dict[str, Any]:
        """A stored order document (view row, replay, rebuilt from CloudEvents) as its owner is shown it."""
        return for_owner(PersonalDataVault.from_environment(self.dynamodb), document)

    def replayed(self, order_id: str) -> dict[str, Any]:
        row = order_projection.replay(self.store.read(f"Order-{order_id}"))
        assert row is not None
        return {**row.view, "version": row.version}

    def get(self, path: str, *, customer: str = "customer-alice", **options: Any) -> tuple[int, dict, dict]:
        event = http_event("GET", path, customer=customer, **options)
        parts = path.strip("/").split("/")
        if len(parts) >= 2:
            event["pathParameters"] = {"order_id": parts[1]}
        response = self.query.lambda_handler(event, self.context)
        body = json.loads(response["body"]) if response.get("body") else {}
        return response["statusCode"], body, response.get("headers", {})


def read_side_in(monkeypatch: pytest.MonkeyPatch, context: LambdaContext) -> ReadSide:
    """The read side's resources in the (moto) account, and every read-side function's environment at once
    (they agree on every name they share), so each handler can be loaded lazily by the test that needs it."""
    dynamodb = boto3.client("dynamodb")
    orders_log = create_table(dynamodb, "OrdersEventLog", "orders-event-log")
    view_table = create_table(dynamodb, "OrdersView", "orders-view")
    analytics_table = create_table(dynamodb, "SalesAnalytics", "sales-analytics")
    # As the template's defaults create it: KinesisStreamMode, and KinesisShardCount shards when provisioned.
    parameters = template()["Parameters"]
    mode = resolved(
        resource("OrderEventsStream")["Properties"]["StreamModeDetails"]["StreamMode"], parameters
    )
    kinesis = boto3.client("kinesis")
    if mode == "PROVISIONED":
        shards = int(parameters["KinesisShardCount"]["Default"])
        kinesis.create_stream(
            StreamName=ORDER_EVENTS, StreamModeDetails={"StreamMode": mode}, ShardCount=shards
        )
    else:
        kinesis.create_stream(StreamName=ORDER_EVENTS, StreamModeDetails={"StreamMode": mode})
    registry = put_pricing_parameters(monkeypatch)["OrdersViewGenerations"]
    create_personal_data_vault(monkeypatch)
    monkeypatch.setenv("EVENT_LOG_TABLE", orders_log)
    generations = {
        "VIEW_TABLES": json.dumps({"blue": view_table, "green": GREEN_TABLE}),
        "VIEW_GENERATIONS": registry,
        # No cache between calls: a test's registry change is seen by the next invocation.
        "VIEW_GENERATIONS_MAX_AGE": "0",
    }
    template_env(monkeypatch, "OrdersViewRebuilderFunction", EVENT_LOG_TABLE=orders_log, **generations)
    template_env(monkeypatch, "OrderProjectorFunction", EVENT_LOG_TABLE=orders_log, **generations)
    template_env(monkeypatch, "OrderPublisherFunction", EVENT_STREAM_NAME=ORDER_EVENTS)
    template_env(monkeypatch, "SalesAnalyticsProjectorFunction", ANALYTICS_TABLE=analytics_table)
    template_env(monkeypatch, "OrdersQueryApiFunction", EVENT_LOG_TABLE=orders_log, **generations)
    return ReadSide(dynamodb, orders_log, view_table, registry, context)


@pytest.fixture
def read_side(aws: None, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext) -> ReadSide:
    return read_side_in(monkeypatch, lambda_context)
