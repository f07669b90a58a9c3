"""The whole order-fulfillment saga on moto: the three event logs, the three published Kinesis streams, the
command queues with their DLQs and the deadline queue, and the real handler of every function, wired by
emulated event source mappings (tests/support/payments) the way the template wires them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from eventcore import DeciderRunner, DynamoDBEventStore
from inventory import stock_decider
from orders.order import order_decider
from payments import FakePaymentProvider, payment_id_for
from shipping import shipment_decider, shipment_id_for
from tests.support.aws import create_table, resource
from tests.support.lambdas import LambdaContext, http_event, load_function
from tests.support.orders import ADDRESS
from tests.support.saga import KinesisFeed, QueueFeed, TableStreamFeed

DECLINE_ABOVE = 10_000  # 100.00 EUR: the fake provider declines anything dearer
BASKET = {"lines": [{"sku": "SKU-TEA-001", "quantity": 2}], "shipping_address": ADDRESS}  # 29.95 EUR
DEAR_BASKET = {"lines": [{"sku": "SKU-POT-001", "quantity": 2}], "shipping_address": ADDRESS}  # 108.00 EUR
KETTLE = {"lines": [{"sku": "SKU-KET-001", "quantity": 1}], "shipping_address": ADDRESS}  # 10 in stock
PATIENT = 300  # seconds: a deadline no test waits for
FUNCTIONS = (
    "payment_commands_consumer",
    "fulfillment_process_manager",
    "order_commands_consumer",
    "inventory_commands_consumer",
    "inventory_buckets_consumer",
    "shipping_commands_consumer",
)


def create_queue(sqs: Any, logical_id: str, name: str, suffix: str = "") -> tuple[str, str]:
    """A queue of the template and its DLQ, with the template's attributes and redrive policy."""
    props = resource(logical_id)["Properties"]
    fifo = bool(props.get("FifoQueue"))
    suffix = f"{suffix}.fifo" if fifo else suffix
    dlq_attributes = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=dlq_attributes)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": props["RedrivePolicy"]["maxReceiveCount"]}
    attributes = {"VisibilityTimeout": str(props["VisibilityTimeout"]), "RedrivePolicy": json.dumps(redrive)}
    if fifo:
        attributes |= {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    queue = sqs.create_queue(QueueName=f"{name}{suffix}", Attributes=attributes)["QueueUrl"]
    return queue, dlq


def attempts_of(function: str, event: str) -> int:
    """How many times the template's event source mapping tries a record: once, then its retries."""
    return 1 + resource(function)["Properties"]["Events"][event]["Properties"]["MaximumRetryAttempts"]


def source_of(logical_id: str) -> str:
    return resource(logical_id)["Properties"]["Environment"]["Variables"]["CLOUDEVENTS_SOURCE"]


class StaffAnswer(tuple[int, dict]):
    """A staff request's answer as `(status, body)`, so `status, body = saga.staff(...)` reads as before, with
    the response's headers beside them (`Idempotent-Replayed`, `ETag`)."""

    headers: dict[str, str]

    def __new__(cls, status: int, body: dict, headers: dict[str, str]) -> StaffAnswer:
        answer = super().__new__(cls, (status, body))
        answer.headers = headers
        return answer


@dataclass
class Saga:
    """Every context and the mappings between them. `run()` moves everything until nothing is left."""

    monkeypatch: pytest.MonkeyPatch
    dynamodb: Any
    provider: FakePaymentProvider
    parameters: dict[str, str]
    deadline_seconds: int = PATIENT
    suffix: str = ""  # appended to every resource name, for several sagas in one moto
    context: LambdaContext = field(default_factory=LambdaContext)
    # A standby region's saga (docs/failover.md): the logs are the primary's, replicated (one table is what
    # MRSC makes of them: a conditional write checked against both, the same stream records in both); its
    # streams, queues, views and functions are its own.
    replicated_logs: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.logs = self.replicated_logs or {
            name: create_table(self.dynamodb, f"{name}EventLog", f"{name.lower()}-event-log{self.suffix}")
            for name in ("Orders", "Payments", "Inventory", "Shipping")
        }
        self.kinesis = boto3.client("kinesis")
        self.sqs = boto3.client("sqs")
        self.streams = boto3.client("dynamodbstreams")
        self.event_streams = {
            name: f"{name}{self.suffix}"
            for name in ("order-events", "payment-events", "inventory-events", "shipment-events")
        }
        for name in self.event_streams.values():
            # One shard: per-aggregate order is the partition key's either way, and each shard costs every
            # feed two requests a look.
            self.kinesis.create_stream(StreamName=name, ShardCount=1)
        self.queues = {
            "orders": create_queue(self.sqs, "OrderCommandsQueue", "order-commands", self.suffix),
            "payments": create_queue(self.sqs, "PaymentCommandsQueue", "payment-commands", self.suffix),
            "inventory": create_queue(self.sqs, "InventoryCommandsQueue", "inventory-commands", self.suffix),
            "buckets": create_queue(self.sqs, "InventoryBucketsQueue", "inventory-buckets", self.suffix),
            "shipping": create_queue(self.sqs, "ShippingCommandsQueue", "shipping-commands", self.suffix),
            "deadlines": create_queue(
                self.sqs, "FulfillmentDeadlinesQueue", "fulfillment-deadlines", self.suffix
            ),
        }
        self.orders_store = DynamoDBEventStore(self.logs["Orders"], self.dynamodb)
        self.payments_store = DynamoDBEventStore(self.logs["Payments"], self.dynamodb)
        self.inventory_store = DynamoDBEventStore(self.logs["Inventory"], self.dynamodb)
        self.shipping_store = DynamoDBEventStore(self.logs["Shipping"], self.dynamodb)
        # ShipmentsView in its blue/green generations, with a registry of this saga's own (as the template
        # declares it: blue active); read again at every call, so a test's registry change is seen at once.
        self.shipments_views = {
            "blue": create_table(self.dynamodb, "ShipmentsView", f"shipments-view{self.suffix}"),
            "green": create_table(self.dynamodb, "ShipmentsViewGreen", f"shipments-view-green{self.suffix}"),
        }
        self.shipments_registry = self._registry("ShipmentsViewGenerations")
        shipments_view = {
            "VIEW_TABLES": json.dumps(self.shipments_views),
            "VIEW_GENERATIONS": self.shipments_registry,
            "VIEW_GENERATIONS_MAX_AGE": "0",
        }
        self.monkeypatch.setenv("FAKE_PROVIDER_DECLINE_ABOVE", str(DECLINE_ABOVE))
        self.monkeypatch.setenv("INITIAL_STOCK_PARAMETER", self.parameters["InitialStockParameter"])
        self.api = self._load("orders_api", EVENT_LOG_TABLE=self.logs["Orders"])
        self.publishers = [
            TableStreamFeed(
                self.streams,
                self._stream_arn(self.logs[log]),
                self._publisher(fn, self.event_streams[stream]),
                self.context,
            )
            for log, fn, stream in (
                ("Orders", "OrderPublisherFunction", "order-events"),
                ("Payments", "PaymentPublisherFunction", "payment-events"),
                ("Inventory", "InventoryPublisherFunction", "inventory-events"),
                ("Shipping", "ShipmentPublisherFunction", "shipment-events"),
            )
        ]
        self.fulfillment_feeds = [
            KinesisFeed(
                self.kinesis,
                self.event_streams[stream],
                self._fulfillment_handler,
                self.context,
                max_attempts=attempts_of("FulfillmentProcessManagerFunction", event),
            )
            for stream, event in (
                ("order-events", "OrderEvents"),
                ("payment-events", "PaymentEvents"),
                ("inventory-events", "InventoryEvents"),
                ("shipment-events", "ShipmentEvents"),
            )
        ]
        self.deadlines = QueueFeed(
            self.sqs, self.queues["deadlines"][0], self._fulfillment_handler, self.context
        )
        self.order_commands = QueueFeed(
            self.sqs, self.queues["orders"][0], self._command_handler, self.context
        )
        self.payment_commands = QueueFeed(
            self.sqs, self.queues["payments"][0], self._payments_handler, self.context
        )
        self.inventory_commands = QueueFeed(
            self.sqs, self.queues["inventory"][0], self._inventory_handler, self.context
        )
        self.bucket_commands = QueueFeed(
            self.sqs, self.queues["buckets"][0], self._buckets_handler, self.context
        )
        self.shipping_commands = QueueFeed(
            self.sqs, self.queues["shipping"][0], self._shipping_handler, self.context
        )
        self._shipment_projection = TableStreamFeed(
            self.streams,
            self._stream_arn(self.logs["Shipping"]),
            self._load(
                "shipment_projector", EVENT_LOG_TABLE=self.logs["Shipping"], **shipments_view
            ).lambda_handler,
            self.context,
        )
        self.shipping_api = self._load(
            "shipping_api", EVENT_LOG_TABLE=self.logs["Shipping"], **shipments_view
        )
        self.privacy_api = self._load("privacy_api", EVENT_LOG_TABLE=self.logs["Orders"])
        self.cold_start(*FUNCTIONS)

    # -- functions -------------------------------------------------------------------------------------------

    def cold_start(self, *names: str) -> None:
        """A fresh container for each function named: its module imported again, its memory image empty."""
        for name in names:
            if name == "payment_commands_consumer":
                self.payments_module = self._load(name, EVENT_LOG_TABLE=self.logs["Payments"])
                self.payments_module.service.provider = self.provider  # the provider outlives containers
            elif name == "fulfillment_process_manager":
                self.fulfillment_module = self._load(
                    name,
                    EVENT_LOG_TABLE=self.logs["Orders"],
                    FULFILLMENT_DEADLINE_SECONDS=str(self.deadline_seconds),
                    ORDER_COMMANDS_QUEUE_URL=self.queues["orders"][0],
                    PAYMENT_COMMANDS_QUEUE_URL=self.queues["payments"][0],
                    INVENTORY_COMMANDS_QUEUE_URL=self.queues["inventory"][0],
                    SHIPPING_COMMANDS_QUEUE_URL=self.queues["shipping"][0],
                    FULFILLMENT_DEADLINES_QUEUE_URL=self.queues["deadlines"][0],
                    ORDERS_EVENT_SOURCE=source_of("OrderPublisherFunction"),
                    PAYMENTS_EVENT_SOURCE=source_of("PaymentPublisherFunction"),
                    INVENTORY_EVENT_SOURCE=source_of("InventoryPublisherFunction"),
                    SHIPPING_EVENT_SOURCE=source_of("ShipmentPublisherFunction"),
                )
            elif name == "order_commands_consumer":
                self.command_module = self._load(name, EVENT_LOG_TABLE=self.logs["Orders"])
            elif name == "inventory_commands_consumer":
                self.inventory_module = self._load(
                    name,
                    EVENT_LOG_TABLE=self.logs["Inventory"],
                    INVENTORY_BUCKETS_QUEUE_URL=self.queues["buckets"][0],
                )
            elif name == "inventory_buckets_consumer":
                self.buckets_module = self._load(name, EVENT_LOG_TABLE=self.logs["Inventory"])
            elif name == "shipping_commands_consumer":
                self.shipping_module = self._load(name, EVENT_LOG_TABLE=self.logs["Shipping"])

    def _payments_handler(self, event: dict, context: Any) -> dict:
        return self.payments_module.lambda_handler(event, context)

    def _fulfillment_handler(self, event: dict, context: Any) -> dict:
        return self.fulfillment_module.lambda_handler(event, context)

    def _command_handler(self, event: dict, context: Any) -> dict:
        return self.command_module.lambda_handler(event, context)

    def _inventory_handler(self, event: dict, context: Any) -> dict:
        return self.inventory_module.lambda_handler(event, context)

    def _buckets_handler(self, event: dict, context: Any) -> dict:
        return self.buckets_module.lambda_handler(event, context)

    def _shipping_handler(self, event: dict, context: Any) -> dict:
        return self.shipping_module.lambda_handler(event, context)

    def _load(self, name: str, **environment: str) -> Any:
        for key, value in environment.items():
            self.monkeypatch.setenv(key, value)
        return load_function(name)

    def _publisher(self, logical_id: str, stream_name: str) -> Any:
        """The generic publisher (functions/event_publisher), configured as the template configures it."""
        environment = resource(logical_id)["Properties"]["Environment"]["Variables"]
        self.monkeypatch.delenv("PUBLISHED_AGGREGATES", raising=False)
        module = self._load(
            "event_publisher",
            EVENT_STREAM_NAME=stream_name,
            CLOUDEVENTS_SOURCE=environment["CLOUDEVENTS_SOURCE"],
            CLOUDEVENTS_TYPE_PREFIX=environment["CLOUDEVENTS_TYPE_PREFIX"],
            **{name: environment[name] for name in ("PUBLISHED_AGGREGATES",) if name in environment},
        )
        return module.lambda_handler

    def _registry(self, logical_id: str) -> str:
        """The template's generations registry `logical_id`, under a name of this saga's own."""
        name = f"{self.parameters[logical_id]}{self.suffix}"
        if self.suffix:
            value = resource(logical_id)["Properties"]["Value"]
            boto3.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        return name

    def _stream_arn(self, table: str) -> str:
        return self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]

    # -- what customers and staff do -------------------------------------------------------------------------

    def place_order(self, basket: dict | None = None, customer: str = "customer-alice") -> tuple[str, str]:
        """POST /orders through the orders API; returns (order id, the request's correlation id)."""
        event = http_event("POST", "/orders", body=basket or BASKET, customer=customer)
        response = self.api.lambda_handler(event, self.context)
        assert response["statusCode"] == 201, response
        return json.loads(response["body"])["order_id"], event["requestContext"]["requestId"]

    def cancel_order(self, order_id: str, customer: str = "customer-alice") -> int:
        event = http_event("POST", f"/orders/{order_id}/cancel", customer=customer)
        event["pathParameters"] = {"order_id": order_id}
        return self.api.lambda_handler(event, self.context)["statusCode"]

    def request_return(
        self, order_id: str, lines: list[dict], customer: str = "customer-alice", key: str | None = None
    ) -> tuple[int, dict]:
        """POST /orders/{order_id}/returns: the customer asks to return `lines` ({sku, quantity})."""
        headers = {"idempotency-key": key} if key else {}
        event = http_event(
            "POST", f"/orders/{order_id}/returns", body={"lines": lines}, customer=customer, headers=headers
        )
        event["pathParameters"] = {"order_id": order_id}
        response = self.api.lambda_handler(event, self.context)
        return response["statusCode"], json.loads(response.get("body") or "{}")

    def receive_return(self, order_id: str, return_id: str, lines: list[dict]) -> tuple[int, dict]:
        """POST /orders/{order_id}/returns/{return_id}/receipt: warehouse staff record the parcel received
        (`lines`: {sku, quantity, condition}); the gateway checked their scope."""
        path = f"/orders/{order_id}/returns/{return_id}/receipt"
        event = http_event("POST", path, body={"lines": lines}, customer="warehouse-staff-1")
        event["pathParameters"] = {"order_id": order_id, "return_id": return_id}
        response = self.api.lambda_handler(event, self.context)
        return response["statusCode"], json.loads(response.get("body") or "{}")

    def order(self, order_id: str) -> Any:
        """The order's state, from its log."""
        return DeciderRunner(order_decider, self.orders_store).load(order_id).state

    def erase(self, customer: str = "customer-alice") -> tuple[int, dict]:
        """DELETE /customers/me/personal-data: the customer erases their own personal data."""
        event = http_event("DELETE", "/customers/me/personal-data", customer=customer)
        response = self.privacy_api.lambda_handler(event, self.context)
        return response["statusCode"], json.loads(response.get("body") or "{}")

    def staff(self, method: str, path: str, body: dict | None = None, key: str | None = None) -> StaffAnswer:
        """A warehouse staff request to the shipping API (its scope checked by the gateway): (status, body),
        with the response's headers as `.headers`."""
        headers = {"idempotency-key": key} if key else {}
        event = http_event(method, path, body=body, customer="warehouse-staff-1", headers=headers)
        parts = path.strip("/").split("/")
        if len(parts) >= 2:
            event["pathParameters"] = {"shipment_id": parts[1]}
        response = self.shipping_api.lambda_handler(event, self.context)
        return StaffAnswer(
            response["statusCode"], json.loads(response.get("body") or "{}"), response.get("headers") or {}
        )

    def shipment_projector_pump(self) -> int:
        """The shipments read model, fed from the shipping log as the shipment projector is."""
        return self._shipment_projection.pump()

    def dispatch(
        self, order_id: str, tracking_number: str = "TR-1", key: str | None = None
    ) -> tuple[int, dict]:
        body = {"carrier": "PostNL", "tracking_number": tracking_number}
        return self.staff("POST", f"/shipments/{shipment_id_for(order_id)}/dispatch", body, key)

    def deliver(self, order_id: str) -> tuple[int, dict]:
        return self.staff("POST", f"/shipments/{shipment_id_for(order_id)}/deliver")

    # -- moving the saga along -------------------------------------------------------------------------------

    @property
    def command_feeds(self) -> list[QueueFeed]:
        return [
            self.inventory_commands,
            self.bucket_commands,
            self.payment_commands,
            self.shipping_commands,
            self.order_commands,
            self.deadlines,
        ]

    def step(self) -> int:
        """One round: publish what the logs hold, let the process manager hear it, apply the commands."""
        moved = sum(publisher.pump() for publisher in self.publishers)
        for feed in self.fulfillment_feeds:
            moved += feed.drain()
        for queue in self.command_feeds:
            moved += queue.deliver()
        return moved

    def run(self, *, rounds: int = 80) -> None:
        for _ in range(rounds):
            if not self.step():
                return
        raise AssertionError(f"the saga did not settle in {rounds} rounds")

    # -- what happened ---------------------------------------------------------------------------------------

    def order_events(self, order_id: str) -> list[tuple[str, dict]]:
        return [
            (e.event_type, e.payload()) for c in self.orders_store.read(f"Order-{order_id}") for e in c.events
        ]

    def order_commits(self, order_id: str) -> list[Any]:
        return list(self.orders_store.read(f"Order-{order_id}"))

    def process_events(self, order_id: str) -> list[str]:
        return [e.event_type for c in self.orders_store.read(f"Fulfillment-{order_id}") for e in c.events]

    def payment_commits(self, order_id: str) -> list[Any]:
        return list(self.payments_store.read(f"Payment-{payment_id_for(order_id)}"))

    def payment_events(self, order_id: str) -> list[str]:
        return [e.event_type for c in self.payment_commits(order_id) for e in c.events]

    def stock(self, sku: str) -> Any:
        return DeciderRunner(stock_decider, self.inventory_store).load(sku).state

    def stock_events(self, sku: str) -> list[tuple[str, dict]]:
        return [
            (e.event_type, e.payload()) for c in self.inventory_store.read(f"Stock-{sku}") for e in c.events
        ]

    def shipment(self, order_id: str) -> Any:
        return DeciderRunner(shipment_decider, self.shipping_store).load(shipment_id_for(order_id)).state

    def parked(self, queue: str) -> list[Any]:
        return self.sqs.receive_message(QueueUrl=self.queues[queue][1], MaxNumberOfMessages=10).get(
            "Messages", []
        )


@pytest.fixture
def provider() -> FakePaymentProvider:
    return FakePaymentProvider(decline_above=DECLINE_ABOVE)


@pytest.fixture
def saga(dynamodb, pricing_parameters, personal_data_keys, monkeypatch, provider) -> Saga:
    return Saga(monkeypatch, dynamodb, provider, pricing_parameters)


def new_customer() -> str:
    return f"customer-{uuid.uuid4().hex[:8]}"
