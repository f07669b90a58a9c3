"""Bad or unexpected messages (garbage, unknown event or command types, schema versions nobody reads yet) are
reported as batch item failures and parked after their retries: never a crash loop, never a blocked order."""

from __future__ import annotations

import json
import uuid

import pytest

from payments import payment_id_for
from tests.integration.saga.conftest import BASKET
from tests.support.aws import resource
from tests.support.saga import cloudevent, kinesis_event, kinesis_record, raw_kinesis_record, sqs_record


def put(saga, stream: str, data: bytes, partition_key: str = "same-shard") -> None:
    saga.kinesis.put_record(StreamName=stream, PartitionKey=partition_key, Data=data)


def order_created_v9() -> bytes:
    event = cloudevent("OrderCreated", {"order_id": "o-9"}, event_id=str(uuid.uuid4()), schema_version=9)
    return json.dumps(event).encode()


def queued_nothing(saga) -> bool:
    return all(not saga.sqs.receive_message(QueueUrl=url).get("Messages") for url, _ in saga.queues.values())


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
        assert queued_nothing(saga)

    def test_parks_bad_records_after_their_retries_and_the_orders_behind_them_go_on(self, saga, provider):
        # GIVEN garbage and an unsupported schema version on every shard, ahead of the orders
        for shard_key in ("a", "b", "c", "d", "e", "f"):
            put(saga, "order-events", b"garbage", shard_key)
            put(saga, "order-events", order_created_v9(), shard_key)
        # WHEN orders are placed behind them and the saga runs
        order_ids = [saga.place_order(BASKET)[0] for _ in range(3)]
        saga.run()
        # THEN the bad records are parked (the on-failure destination), each after the same finite retries
        order_feed = saga.fulfillment_feeds[0]
        assert len(order_feed.parked) == 12
        # AND every order went through
        for order_id in order_ids:
            assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderConfirmed"]
            assert provider.ledger[payment_id_for(order_id)].authorizations == 1

    def test_parks_an_unsupported_schema_version_and_sends_nothing(self, saga):
        event = cloudevent(
            "StockReserved",
            {"order_id": "o-1"},
            event_id=str(uuid.uuid4()),
            schema_version=2,
            context="inventory",
        )
        put(saga, "inventory-events", json.dumps(event).encode())
        inventory_feed = saga.fulfillment_feeds[2]
        inventory_feed.drain()
        assert len(inventory_feed.parked) == 1
        assert queued_nothing(saga)


@pytest.mark.parametrize("source", ["OrderEvents", "PaymentEvents", "InventoryEvents"])
def test_no_filter_drops_records_before_the_process_manager_can_park_them(source):
    # Lambda discards records that match no filter (and non-JSON data under any `data` filter): unknown types
    # and garbage must reach the handler, which acknowledges the known irrelevant types itself.
    events = resource("FulfillmentProcessManagerFunction")["Properties"]["Events"]
    assert "FilterCriteria" not in events[source]["Properties"]


class TestTheCommandHandlers:
    def send(self, saga, queue: str, body: str, group: str) -> None:
        saga.sqs.send_message(
            QueueUrl=saga.queues[queue][0],
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=uuid.uuid4().hex,
        )

    @pytest.mark.parametrize("queue", ["orders", "payments", "inventory"])
    def test_move_unreadable_commands_to_their_dlq_and_other_orders_go_on(self, saga, queue):
        # GIVEN an order on its way, and two bad messages in other groups of one queue
        order_id, _ = saga.place_order(BASKET)
        self.send(saga, queue, "not json at all", "group-garbage")
        unknown = {"command_type": "RefundEverything", "command_id": "c-1", "payload": {}}
        self.send(saga, queue, json.dumps(unknown), "group-unknown")
        # WHEN the saga runs (the bad messages come back until the redrive policy parks them)
        saga.run()
        for _ in range(5):
            saga.step()
        # THEN the order is confirmed regardless, and the bad messages are parked after maxReceiveCount
        assert [t for t, _ in saga.order_events(order_id)][-1] == "OrderConfirmed"
        parked = sorted(m["Body"] for m in saga.parked(queue))
        assert parked == sorted(["not json at all", json.dumps(unknown)])

    def command(self, command_type: str, payload: dict) -> str:
        return json.dumps(
            {"command_type": command_type, "command_id": f"{command_type}:{uuid.uuid4()}", "payload": payload}
        )

    def handle(self, saga, lambda_context) -> set[str]:
        """One delivery of what is on order-commands; the bodies of the messages the handler failed."""
        feed = saga.order_commands
        messages = feed.receive()
        response = saga.command_module.lambda_handler(
            {"Records": [sqs_record(feed.queue_arn, m) for m in messages]}, lambda_context
        )
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        return {m["Body"] for m in messages if m["MessageId"] in failed}

    def test_a_failure_holds_back_only_the_rest_of_its_own_group(self, saga, lambda_context):
        order_id, _ = saga.place_order(BASKET)
        self.send(saga, "orders", "garbage", "group-x")
        self.send(saga, "orders", "garbage too", "group-x")
        cancel = self.command(
            "CancelOrder",
            {
                "order_id": order_id,
                "reason": "payment_declined",
                "requested_by": None,
                "at": "2026-03-01T09:00:00Z",
            },
        )
        self.send(saga, "orders", cancel, order_id)
        assert self.handle(saga, lambda_context) == {"garbage", "garbage too"}
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderCancelled"]

    def test_a_second_different_payment_for_a_paid_order_is_failed_not_acknowledged(
        self, saga, lambda_context
    ):
        order_id, _ = saga.place_order(BASKET)
        saga.run()
        assert [t for t, _ in saga.order_events(order_id)][-1] == "OrderConfirmed"
        at = "2026-03-01T09:00:00Z"
        again = self.command(
            "ConfirmOrder", {"order_id": order_id, "payment_id": payment_id_for(order_id), "at": at}
        )
        mismatch = self.command(
            "ConfirmOrder", {"order_id": order_id, "payment_id": "another-payment", "at": at}
        )
        self.send(saga, "orders", again, order_id)
        self.send(saga, "orders", mismatch, order_id)
        # THEN only the mismatch fails (retried, then parked for a person) and the order is unchanged
        assert self.handle(saga, lambda_context) == {mismatch}
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderConfirmed"]

    def test_final_and_safe_refusals_are_acknowledged(self, saga, lambda_context):
        order_id, _ = saga.place_order(BASKET)
        assert saga.cancel_order(order_id) == 200
        confirm = self.command(
            "ConfirmOrder",
            {"order_id": order_id, "payment_id": payment_id_for(order_id), "at": "2026-03-01T09:00:00Z"},
        )
        self.send(saga, "orders", confirm, order_id)
        assert self.handle(saga, lambda_context) == set()
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderCancelled"]
