"""The whole saga on moto: both event logs, both Kinesis streams, the order-commands FIFO queue with its DLQ,
and the real handlers of every function, wired by emulated event source mappings (tests/support/payments)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from microsystem import DynamoDBEventStore
from payments import FakePaymentProvider, payment_id_for
from tests.support.aws import create_table, resource
from tests.support.lambdas import LambdaContext, http_event, load_function
from tests.support.payments import KinesisFeed, QueueFeed, TableStreamFeed

DECLINE_ABOVE = 10_000  # 100.00 EUR: the fake provider declines anything dearer
BASKET = {"lines": [{"sku": "SKU-TEA-001", "quantity": 2}], "destination_country": "NL"}  # 29.95 EUR
DEAR_BASKET = {"lines": [{"sku": "SKU-KET-001", "quantity": 2}], "destination_country": "NL"}  # 178.00 EUR


def create_fifo_queues(sqs: Any) -> tuple[str, str]:
    """order-commands and its DLQ, with the template's attributes and redrive policy."""
    dlq = sqs.create_queue(QueueName="order-commands-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    props = resource("OrderCommandsQueue")["Properties"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": props["RedrivePolicy"]["maxReceiveCount"]}
    queue = sqs.create_queue(
        QueueName="order-commands.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": str(props["ContentBasedDeduplication"]).lower(),
            "VisibilityTimeout": str(props["VisibilityTimeout"]),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return queue, dlq


def attempts_of(function: str, event: str) -> int:
    """How many times the template's event source mapping tries a record: once, then its retries."""
    return 1 + resource(function)["Properties"]["Events"][event]["Properties"]["MaximumRetryAttempts"]


@dataclass
class Saga:
    """Both microsystems and the mappings between them. `run()` moves everything until nothing is left."""

    monkeypatch: pytest.MonkeyPatch
    dynamodb: Any
    provider: FakePaymentProvider
    orders_log: str = "orders-event-log"
    payments_log: str = "payments-event-log"
    context: LambdaContext = field(default_factory=LambdaContext)

    def __post_init__(self) -> None:
        create_table(self.dynamodb, "OrdersEventLog", self.orders_log)
        create_table(self.dynamodb, "PaymentsEventLog", self.payments_log)
        self.kinesis = boto3.client("kinesis")
        self.sqs = boto3.client("sqs")
        self.streams = boto3.client("dynamodbstreams")
        for name in ("order-events", "payment-events"):
            self.kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        self.queue_url, self.dlq_url = create_fifo_queues(self.sqs)
        self.orders_store = DynamoDBEventStore(self.orders_log, self.dynamodb)
        self.payments_store = DynamoDBEventStore(self.payments_log, self.dynamodb)
        self.monkeypatch.setenv("FAKE_PROVIDER_DECLINE_ABOVE", str(DECLINE_ABOVE))
        self.api = self._load("orders_api", EVENT_LOG_TABLE=self.orders_log)
        self.publish_orders = TableStreamFeed(
            self.streams,
            self._stream_arn(self.orders_log),
            self._publisher("OrderPublisherFunction", "order-events"),
            self.context,
        )
        self.publish_payments = TableStreamFeed(
            self.streams,
            self._stream_arn(self.payments_log),
            self._publisher("PaymentPublisherFunction", "payment-events"),
            self.context,
        )
        self.payments = KinesisFeed(
            self.kinesis,
            "order-events",
            self._payments_handler,
            self.context,
            max_attempts=attempts_of("PaymentsHandlerFunction", "OrderEvents"),
        )
        self.fulfillment = KinesisFeed(
            self.kinesis,
            "payment-events",
            self._fulfillment_handler,
            self.context,
            max_attempts=attempts_of("FulfillmentManagerFunction", "PaymentEvents"),
        )
        self.commands = QueueFeed(self.sqs, self.queue_url, self._command_handler, self.context)
        self.cold_start("payments_handler", "fulfillment_manager", "order_command_handler")

    # -- functions -------------------------------------------------------------------------------------------

    def cold_start(self, *names: str) -> None:
        """A fresh container for each function named: its module imported again, its memory image empty."""
        for name in names:
            if name == "payments_handler":
                self.payments_module = self._load(name, EVENT_LOG_TABLE=self.payments_log)
                self.payments_module.service.provider = self.provider  # the provider outlives containers
            elif name == "fulfillment_manager":
                self.fulfillment_module = self._load(name, ORDER_COMMANDS_QUEUE_URL=self.queue_url)
            elif name == "order_command_handler":
                self.command_module = self._load(name, EVENT_LOG_TABLE=self.orders_log)

    def _payments_handler(self, event: dict, context: Any) -> dict:
        return self.payments_module.lambda_handler(event, context)

    def _fulfillment_handler(self, event: dict, context: Any) -> dict:
        return self.fulfillment_module.lambda_handler(event, context)

    def _command_handler(self, event: dict, context: Any) -> dict:
        return self.command_module.lambda_handler(event, context)

    def _load(self, name: str, **environment: str) -> Any:
        for key, value in environment.items():
            self.monkeypatch.setenv(key, value)
        return load_function(name)

    def _publisher(self, logical_id: str, stream_name: str) -> Any:
        """The generic publisher (functions/event_publisher), configured as the template configures it."""
        environment = resource(logical_id)["Properties"]["Environment"]["Variables"]
        module = self._load(
            "event_publisher",
            EVENT_STREAM_NAME=stream_name,
            CLOUDEVENTS_SOURCE=environment["CLOUDEVENTS_SOURCE"],
            CLOUDEVENTS_TYPE_PREFIX=environment["CLOUDEVENTS_TYPE_PREFIX"],
        )
        return module.lambda_handler

    def _stream_arn(self, table: str) -> str:
        return self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]

    # -- what customers do -----------------------------------------------------------------------------------

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

    # -- moving the saga along -------------------------------------------------------------------------------

    def run(self, *, rounds: int = 50) -> None:
        for _ in range(rounds):
            moved = self.publish_orders.pump()
            self.payments.drain()
            moved += self.publish_payments.pump()
            self.fulfillment.drain()
            moved += self.commands.deliver()
            if not moved and not self.commands.receive(1):
                return
            self._release_all()
        raise AssertionError(f"the saga did not settle in {rounds} rounds")

    def _release_all(self) -> None:
        # receive(1) above may have taken a message: make it visible again for the next round.
        for message in self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    # -- what happened ---------------------------------------------------------------------------------------

    def order_events(self, order_id: str) -> list[tuple[str, dict]]:
        return [
            (e.event_type, e.payload()) for c in self.orders_store.read(f"Order-{order_id}") for e in c.events
        ]

    def order_commits(self, order_id: str) -> list[Any]:
        return list(self.orders_store.read(f"Order-{order_id}"))

    def payment_commits(self, order_id: str) -> list[Any]:
        return list(self.payments_store.read(f"Payment-{payment_id_for(order_id)}"))

    def payment_events(self, order_id: str) -> list[str]:
        return [e.event_type for c in self.payment_commits(order_id) for e in c.events]

    def parked_commands(self) -> list[Any]:
        return self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10).get("Messages", [])


@pytest.fixture
def provider() -> FakePaymentProvider:
    return FakePaymentProvider(decline_above=DECLINE_ABOVE)


@pytest.fixture
def saga(dynamodb, pricing_parameters, monkeypatch, provider) -> Saga:
    return Saga(monkeypatch, dynamodb, provider)


def new_customer() -> str:
    return f"customer-{uuid.uuid4().hex[:8]}"
