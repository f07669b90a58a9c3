"""Bad or unexpected messages (garbage, unknown event or command types, schema versions nobody reads yet) are
reported as batch item failures and parked after their retries: never a crash loop, never a blocked order."""

from __future__ import annotations

import json
import uuid

import pytest

from payments import payment_id_for
from tests.integration.saga.conftest import BASKET
from tests.support.aws import resource
from tests.support.payments import cloudevent, kinesis_event, kinesis_record, raw_kinesis_record, sqs_record


def put(saga, stream: str, data: bytes, partition_key: str = "same-shard") -> None:
    saga.kinesis.put_record(StreamName=stream, PartitionKey=partition_key, Data=data)


def order_created_v9() -> bytes:
    event = cloudevent("OrderCreated", {"order_id": "o-9"}, event_id=str(uuid.uuid4()), schema_version=9)
    return json.dumps(event).encode()


class TestThePaymentsHandler:
    def test_reports_exactly_the_records_it_cannot_read(self, saga, lambda_context):
        arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/order-events"
        unknown = cloudevent("OrderRefunded", {"order_id": "o-1"}, event_id=str(uuid.uuid4()))
        ignored = cloudevent("OrderShipped", {"order_id": "o-2"}, event_id=str(uuid.uuid4()))
        records = [
            raw_kinesis_record(b"\xff not json", sequence_number="1"),
            raw_kinesis_record(json.dumps(unknown).encode(), sequence_number="2"),
            raw_kinesis_record(order_created_v9(), sequence_number="3"),
            raw_kinesis_record(json.dumps(ignored).encode(), sequence_number="4"),
        ]
        event = kinesis_event([kinesis_record(arn, "shardId-000000000000", r) for r in records])
        response = saga.payments_module.lambda_handler(event, lambda_context)
        assert response == {"batchItemFailures": [{"itemIdentifier": n} for n in ("1", "2", "3")]}

    def test_parks_bad_records_after_their_retries_and_the_orders_behind_them_go_on(self, saga, provider):
        # GIVEN garbage and an unsupported schema version on every shard, ahead of the orders
        for shard_key in ("a", "b", "c", "d", "e", "f"):
            put(saga, "order-events", b"garbage", shard_key)
            put(saga, "order-events", order_created_v9(), shard_key)
        # WHEN orders are placed behind them and the saga runs
        order_ids = [saga.place_order(BASKET)[0] for _ in range(3)]
        saga.run()
        # THEN the bad records are parked (the on-failure destination), each after the same finite retries
        assert len(saga.payments.parked) == 12
        # AND every order went through
        for order_id in order_ids:
            assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderConfirmed"]
            assert provider.ledger[payment_id_for(order_id)].authorizations == 1


@pytest.mark.parametrize(
    ("function", "source"),
    [("PaymentsHandlerFunction", "OrderEvents"), ("FulfillmentManagerFunction", "PaymentEvents")],
)
def test_no_filter_drops_records_before_the_handler_can_park_them(function, source):
    # Lambda discards records that match no filter (and non-JSON data under any `data` filter): unknown types
    # and garbage must reach the handler, which acknowledges the known irrelevant types itself.
    assert "FilterCriteria" not in resource(function)["Properties"]["Events"][source]["Properties"]


class TestTheFulfillmentManager:
    def test_reports_exactly_the_records_it_cannot_read(self, saga, lambda_context):
        arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/payment-events"

        def payment_event(event_type: str) -> bytes:
            event = cloudevent(
                event_type, {"order_id": "o-1"}, event_id=str(uuid.uuid4()), context="payments"
            )
            return json.dumps(event).encode()

        records = [
            raw_kinesis_record(b"\xff not json", sequence_number="1"),
            raw_kinesis_record(payment_event("PaymentRefunded"), sequence_number="2"),
            raw_kinesis_record(payment_event("PaymentRequested"), sequence_number="3"),
            raw_kinesis_record(payment_event("PaymentVoided"), sequence_number="4"),
        ]
        event = kinesis_event([kinesis_record(arn, "shardId-000000000000", r) for r in records])
        response = saga.fulfillment_module.lambda_handler(event, lambda_context)
        assert response == {"batchItemFailures": [{"itemIdentifier": n} for n in ("1", "2")]}
        assert saga.commands.receive() == []

    def test_parks_an_unsupported_schema_version_and_sends_nothing(self, saga):
        event = cloudevent(
            "PaymentAuthorized",
            {"order_id": "o-1"},
            event_id=str(uuid.uuid4()),
            schema_version=2,
            context="payments",
        )
        put(saga, "payment-events", json.dumps(event).encode())
        saga.fulfillment.drain()
        assert len(saga.fulfillment.parked) == 1
        assert saga.commands.receive() == []


class TestTheOrderCommandHandler:
    def send(self, saga, body: str, group: str) -> None:
        saga.sqs.send_message(
            QueueUrl=saga.queue_url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=uuid.uuid4().hex,
        )

    def test_moves_unreadable_commands_to_the_dlq_and_other_orders_go_on(self, saga):
        # GIVEN an order awaiting payment, and two bad messages in other groups
        order_id, _ = saga.place_order(BASKET)
        self.send(saga, "not json at all", "group-garbage")
        unknown = {"command_type": "RefundOrder", "command_id": "c-1", "payload": {}}
        self.send(saga, json.dumps(unknown), "group-unknown")
        # WHEN the saga runs
        saga.run()
        # THEN the order is confirmed regardless, and the bad messages are parked after maxReceiveCount
        assert [t for t, _ in saga.order_events(order_id)][-1] == "OrderConfirmed"
        for _ in range(5):
            saga.commands.deliver()
        parked = sorted(m["Body"] for m in saga.parked_commands())
        assert parked == sorted(["not json at all", json.dumps(unknown)])

    def test_a_failure_holds_back_only_the_rest_of_its_own_group(self, saga, lambda_context):
        order_id, _ = saga.place_order(BASKET)
        self.send(saga, "garbage", "group-x")
        self.send(saga, "garbage too", "group-x")
        confirm = {
            "command_type": "CancelOrder",
            "command_id": f"CancelOrder:{uuid.uuid4()}",
            "payload": {
                "order_id": order_id,
                "reason": "payment_declined",
                "requested_by": None,
                "at": "2026-03-01T09:00:00Z",
            },
        }
        self.send(saga, json.dumps(confirm), order_id)
        messages = saga.commands.receive()
        arn = saga.commands.queue_arn
        response = saga.command_module.lambda_handler(
            {"Records": [sqs_record(arn, m) for m in messages]}, lambda_context
        )
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        assert failed == {m["MessageId"] for m in messages if m["Attributes"]["MessageGroupId"] == "group-x"}
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderCancelled"]

    def command(self, command_type: str, payload: dict) -> str:
        return json.dumps(
            {"command_type": command_type, "command_id": f"{command_type}:{uuid.uuid4()}", "payload": payload}
        )

    def handle(self, saga, lambda_context) -> set[str]:
        """One delivery of what is on the queue; the bodies of the messages the handler failed."""
        messages = saga.commands.receive()
        response = saga.command_module.lambda_handler(
            {"Records": [sqs_record(saga.commands.queue_arn, m) for m in messages]}, lambda_context
        )
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        return {m["Body"] for m in messages if m["MessageId"] in failed}

    def test_a_second_different_payment_for_a_paid_order_is_failed_not_acknowledged(
        self, saga, lambda_context
    ):
        # GIVEN an order confirmed by its payment
        order_id, _ = saga.place_order(BASKET)
        saga.run()
        assert [t for t, _ in saga.order_events(order_id)][-1] == "OrderConfirmed"
        # WHEN its own payment confirms it again (a no-op), then another payment tries to
        # (PaymentMismatchError: nobody would ever void that second payment)
        again = self.command(
            "ConfirmOrder",
            {"order_id": order_id, "payment_id": payment_id_for(order_id), "at": "2026-03-01T09:00:00Z"},
        )
        mismatch = self.command(
            "ConfirmOrder",
            {"order_id": order_id, "payment_id": "another-payment", "at": "2026-03-01T09:00:00Z"},
        )
        self.send(saga, again, order_id)
        self.send(saga, mismatch, order_id)
        # THEN only the mismatch fails (retried, then parked for a person) and the order is unchanged
        assert self.handle(saga, lambda_context) == {mismatch}
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderConfirmed"]

    def test_final_and_safe_refusals_are_acknowledged(self, saga, lambda_context):
        # GIVEN an order the customer cancelled before its payment was confirmed
        order_id, _ = saga.place_order(BASKET)
        assert saga.cancel_order(order_id) == 200
        # WHEN its payment's ConfirmOrder arrives late (the payment is voided by the OrderCancelled branch)
        confirm = self.command(
            "ConfirmOrder",
            {"order_id": order_id, "payment_id": payment_id_for(order_id), "at": "2026-03-01T09:00:00Z"},
        )
        self.send(saga, confirm, order_id)
        # THEN the refusal (OrderAlreadyCancelledError) is acknowledged, nothing recorded
        assert self.handle(saga, lambda_context) == set()
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderCancelled"]
