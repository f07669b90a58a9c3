"""The payments handler on moto with a provider that takes 300 ms a call: a batch's orders are handled
concurrently (counted: how many provider calls were in flight at once, never timed), each order's commands
in the order they were queued, and the FIFO partial batch response kept exactly (a failed message fails
its order's later messages in the batch, and only those)."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from typing import Any

import pytest

from eventcore import DynamoDBEventStore
from payments import FakePaymentProvider, payment_id_for
from payments.provider import AuthorizationRequest, AuthorizationResult
from tests.support.aws import SerialisedClient, create_table
from tests.support.lambdas import LambdaContext, load_function, sample_event
from tests.support.read_side import function_environment

PROVIDER_LATENCY_SECONDS = 0.3  # what a card provider takes to answer; the calls overlap or they do not


class SlowProvider:
    """The fake provider behind a 300 ms wait, counting the calls in flight at once (the most there ever
    were) and recording each call in the order it began."""

    def __init__(self) -> None:
        self.fake = FakePaymentProvider()
        self.calls: list[tuple[str, str]] = []  # (kind, idempotency key)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def authorize(self, request: AuthorizationRequest) -> AuthorizationResult:
        self._begin("authorize", request.idempotency_key)
        try:
            return self.fake.authorize(request)
        finally:
            self._end()

    def void(self, *, idempotency_key: str) -> None:
        self._begin("void", idempotency_key)
        try:
            self.fake.void(idempotency_key=idempotency_key)
        finally:
            self._end()

    def _begin(self, kind: str, key: str) -> None:
        with self._lock:
            self.calls.append((kind, key))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(PROVIDER_LATENCY_SECONDS)  # the provider's latency, the thing that must overlap

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1


def message(command_type: str, order_id: str, **payload: Any) -> dict[str, Any]:
    """A payment-commands.fifo message as Lambda delivers it (from the sample), in the order's group."""
    sample = (
        "sqs_fifo_request_payment.json" if command_type == "RequestPayment" else "sqs_fifo_void_payment.json"
    )
    record = copy.deepcopy(sample_event(sample)["Records"][0])
    body = json.loads(record["body"])
    body["command_id"] = f"{command_type}:{uuid.uuid4()}"
    body["payload"] = {**body["payload"], "order_id": order_id, **payload}
    record["body"] = json.dumps(body)
    record["messageId"] = str(uuid.uuid4())
    record["attributes"]["MessageGroupId"] = order_id
    return record


def request(order_id: str) -> dict[str, Any]:
    return message("RequestPayment", order_id, customer_id="customer-alice", amount=4795, currency="EUR")


def void(order_id: str) -> dict[str, Any]:
    return message("VoidPayment", order_id, reason="order cancelled: customer_request")


class Payments:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, dynamodb: Any) -> None:
        table = create_table(dynamodb, "PaymentsEventLog", "payments-event-log")
        for name, value in function_environment("PaymentCommandsConsumerFunction").items():
            if isinstance(value, str):
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("EVENT_LOG_TABLE", table)
        self.module = load_function("payment_commands_consumer")
        # moto's conditional writes are not atomic across threads; DynamoDB's are (tests/support/aws.py)
        store = self.module.service.runner.store
        store._client = SerialisedClient(store._client)
        self.provider = SlowProvider()
        self.module.service.provider = self.provider
        self.store = DynamoDBEventStore(table, dynamodb)

    def handle(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.module.lambda_handler({"Records": records}, LambdaContext())

    def events(self, order_id: str) -> list[str]:
        return [
            e.event_type for c in self.store.read(f"Payment-{payment_id_for(order_id)}") for e in c.events
        ]


@pytest.fixture
def payments(dynamodb, monkeypatch) -> Payments:
    return Payments(monkeypatch, dynamodb)


def failed(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


class TestABatchOfOrders:
    def test_ten_orders_call_the_provider_concurrently(self, payments):
        # GIVEN a batch of ten orders' payment requests, each order its own message group
        orders = [str(uuid.uuid4()) for _ in range(10)]
        # WHEN the batch is handled
        response = payments.handle([request(order_id) for order_id in orders])
        # THEN every payment is authorised, and the provider's calls overlapped: one after another, there
        # would never be more than one in flight (and the batch would take 10 x 300 ms)
        assert failed(response) == []
        assert all(
            payments.events(order_id) == ["PaymentRequested", "PaymentAuthorized"] for order_id in orders
        )
        assert payments.provider.max_in_flight > 1
        assert len(payments.provider.calls) == 10

    def test_an_orders_request_then_void_are_applied_in_that_order(self, payments):
        # GIVEN a request and then a void for one order, among four other orders' requests
        cancelled, *others = [str(uuid.uuid4()) for _ in range(5)]
        batch = [request(cancelled), request(others[0]), void(cancelled), *map(request, others[1:])]
        # WHEN the batch is handled
        response = payments.handle(batch)
        # THEN the order's payment was authorised, then voided: its calls and its facts in queue order
        assert failed(response) == []
        key = payment_id_for(cancelled)
        assert [kind for kind, k in payments.provider.calls if k == key] == ["authorize", "void"]
        assert payments.events(cancelled) == ["PaymentRequested", "PaymentAuthorized", "PaymentVoided"]
        assert payments.provider.max_in_flight > 1  # the other orders did not wait for it

    def test_a_failed_message_fails_its_orders_later_messages_only(self, payments):
        # GIVEN an order whose request cannot be read, followed by its void, among two other orders
        broken, first, last = (str(uuid.uuid4()) for _ in range(3))
        unreadable = {**request(broken), "body": "{not json"}
        batch = [request(first), unreadable, void(broken), request(last)]
        # WHEN the batch is handled
        response = payments.handle(batch)
        # THEN the unreadable message and its order's later one are failed (in delivery order), the rest
        # applied; the broken order's void never ran
        assert failed(response) == [batch[1]["messageId"], batch[2]["messageId"]]
        assert payments.events(first) == payments.events(last) == ["PaymentRequested", "PaymentAuthorized"]
        assert payments.events(broken) == []
        assert ("void", payment_id_for(broken)) not in payments.provider.calls

    def test_a_batch_delivered_again_charges_nothing_twice(self, payments):
        orders = [str(uuid.uuid4()) for _ in range(4)]
        batch = [request(order_id) for order_id in orders]
        payments.handle(batch)
        assert failed(payments.handle(batch)) == []
        assert all(payments.provider.fake.ledger[payment_id_for(o)].authorizations == 1 for o in orders)
        assert all(payments.events(o) == ["PaymentRequested", "PaymentAuthorized"] for o in orders)
