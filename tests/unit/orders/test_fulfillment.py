"""The fulfillment process manager's pure decisions, and the command messages it queues."""

from datetime import UTC, datetime

import pytest

from microsystem.messages import (
    MalformedMessageError,
    UnexpectedEventError,
    deduplication_id,
    parse_command_message,
    read_published_event,
)
from orders import CancelOrder, ConfirmOrder
from orders.fulfillment import PAYMENT_EVENTS, command_for_payment, command_message, read_queued_command
from payments.events import PaymentAuthorized, PaymentDeclined, PaymentRequested, PaymentVoided

AT = "2026-03-01T09:00:00Z"


class TestCommandForPayment:
    def test_an_authorised_payment_confirms_the_order(self):
        command = command_for_payment(
            "PaymentAuthorized", 1, {"payment_id": "p-1", "order_id": "o-1", "authorized_at": AT, "amount": 5}
        )
        assert command == ConfirmOrder(
            order_id="o-1", payment_id="p-1", at=datetime(2026, 3, 1, 9, tzinfo=UTC)
        )

    def test_a_declined_payment_cancels_the_order_as_payment_declined(self):
        command = command_for_payment(
            "PaymentDeclined", 1, {"payment_id": "p-1", "order_id": "o-1", "declined_at": AT}
        )
        assert isinstance(command, CancelOrder)
        assert (command.reason, command.requested_by) == ("payment_declined", None)

    def test_requests_and_voids_need_nothing(self):
        assert command_for_payment("PaymentRequested", 1, {}) is None
        assert command_for_payment("PaymentVoided", 1, {}) is None

    def test_every_payment_event_type_is_either_acted_on_or_ignored_explicitly(self):
        # No filter on the event source mapping: every type published on payment-events reaches the manager.
        published = {
            e.event_type() for e in (PaymentRequested, PaymentAuthorized, PaymentDeclined, PaymentVoided)
        }
        assert published == set(PAYMENT_EVENTS.handled) | PAYMENT_EVENTS.ignored
        assert not set(PAYMENT_EVENTS.handled) & PAYMENT_EVENTS.ignored

    def test_data_that_breaks_the_schema_is_malformed(self):
        with pytest.raises(MalformedMessageError, match="PaymentAuthorized v1 data is invalid"):
            command_for_payment("PaymentAuthorized", 1, {"order_id": "o-1"})

    @pytest.mark.parametrize(
        ("event_type", "version", "match"),
        [("PaymentRefunded", 1, "unknown payment event type"), ("PaymentAuthorized", 2, "schema version 2")],
    )
    def test_anything_else_is_unexpected(self, event_type, version, match):
        with pytest.raises(UnexpectedEventError, match=match):
            command_for_payment(event_type, version, {})


class TestCommandMessages:
    def test_round_trip_with_ids_derived_from_the_cause(self):
        command = ConfirmOrder(order_id="o-1", payment_id="p-1", at=datetime(2026, 3, 1, tzinfo=UTC))
        message = command_message(command, cause_id="e-9", correlation_id="corr-1")
        entry = message.sqs_entry(group_id="o-1")
        assert entry["MessageGroupId"] == "o-1"
        assert entry["MessageDeduplicationId"] == deduplication_id("ConfirmOrder:e-9")
        assert len(entry["MessageDeduplicationId"]) <= 128
        parsed = parse_command_message(entry["MessageBody"])
        assert (parsed.command_id, parsed.causation_id, parsed.correlation_id) == (
            "ConfirmOrder:e-9",
            "e-9",
            "corr-1",
        )
        assert read_queued_command(parsed) == command

    @pytest.mark.parametrize(
        "body",
        [
            "garbage",
            '{"command_type": "ConfirmOrder"}',
            '{"command_type": "ShipEverything", "command_id": "c", "payload": {}}',
            '{"command_type": "ConfirmOrder", "command_id": "c", "payload": {"order_id": "o"}}',
        ],
    )
    def test_unreadable_messages_are_refused(self, body):
        with pytest.raises(MalformedMessageError):
            read_queued_command(parse_command_message(body))


class TestCloudEvents:
    def test_parses_what_the_publisher_writes(self):
        from microsystem import Commit, RecordedEvent
        from microsystem.cloudevents import commit_to_cloudevents, encode

        commit = Commit(
            stream_id="Payment-p-1",
            version=2,
            events=(RecordedEvent("e-1", "PaymentAuthorized", 1, '{"order_id": "o-1"}', AT),),
            command_id="c-1",
            fingerprint="f",
            committed_at=AT,
            correlation_id="corr-1",
            causation_id="e-0",
        )
        (document,) = commit_to_cloudevents(
            commit, source="urn:x:payments", type_prefix="com.example.payments"
        )
        event = read_published_event(encode(document))
        assert (event.event_type, event.schema_version, event.event_id) == ("PaymentAuthorized", 1, "e-1")
        assert (event.correlation_id, event.causation_id, event.data) == (
            "corr-1",
            "e-0",
            {"order_id": "o-1"},
        )

    @pytest.mark.parametrize(
        "raw",
        [
            b"\xff",
            b"[]",
            b'{"specversion": "0.3"}',
            b'{"specversion":"1.0","id":"1","source":"s","type":"x","data":{}}',
            b'{"specversion":"1.0","id":"1","source":"s","type":"a.B.v1","data":[1]}',
            b'{"specversion":"1.0","id":"1","source":"s","type":"a.B.v1","data":{},"Sequence":"1"}',
            b'{"specversion":"1.0","id":"1","source":"s","type":"a.B.v1","data":{},"correlationid":7}',
        ],
    )
    def test_refuses_anything_else(self, raw):
        with pytest.raises(MalformedMessageError):
            read_published_event(raw)
