"""The fulfillment service on the in-memory store with a recording sender: which commands each fact sends,
with ids derived from the fact, and what a redelivery sends again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventcore import DeciderRunner, InMemoryEventStore
from eventcore.messaging.command_sender import OutgoingCommand
from eventcore.messaging.inbound import CommandMessage, PublishedEvent, UnexpectedEventError
from orders.fulfillment import decider
from orders.fulfillment.inbound import Context
from orders.fulfillment.outbound import DEADLINES, INVENTORY, ORDERS, PAYMENTS, SHIPPING
from orders.fulfillment.service import FulfillmentService

ORDER = "0f8e4c1a-3b2d-4e6f-9a7b-1c2d3e4f5a6b"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DEADLINE = timedelta(seconds=60)
SOURCES: dict[str, Context] = {
    "urn:o": "orders",
    "urn:p": "payments",
    "urn:i": "inventory",
    "urn:s": "shipping",
}


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list = []
        self.fail_next = False

    def send(self, commands) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("SQS unavailable")
        self.sent.extend(commands)

    def take(self) -> tuple[list[tuple[str, str]], list[OutgoingCommand]]:
        taken, self.sent = self.sent, []
        return [(c.queue, c.message.command_type) for c in taken], taken


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def published(source: str, event_type: str, data: dict, event_id: str) -> PublishedEvent:
    return PublishedEvent(
        event_id=event_id,
        source=source,
        event_type=event_type,
        schema_version=2 if event_type == "OrderCreated" else 1,
        subject=ORDER,
        data=data,
        correlation_id="corr-1",
        causation_id=None,
    )


CREATED = published(
    "urn:o",
    "OrderCreated",
    {
        "order_id": ORDER,
        "customer_id": "alice",
        "lines": [
            {"sku": "SKU-TEA-001", "name": "Tea", "quantity": 2, "unit_price": 1250, "line_total": 2500}
        ],
        "currency": "EUR",
        "subtotal": 2500,
        "discount": 0,
        "campaign_code": None,
        "shipping": 495,
        "total": 2995,
        "destination_country": "NL",
        "placed_at": T0.isoformat(),
    },
    "e-created",
)
RESERVED = published(
    "urn:i",
    "StockReserved",
    {"sku": "SKU-TEA-001", "order_id": ORDER, "quantity": 2, "reserved_at": T0.isoformat()},
    "e-res",
)
AUTHORIZED = published(
    "urn:p",
    "PaymentAuthorized",
    {"payment_id": "p-1", "order_id": ORDER, "authorized_at": T0.isoformat()},
    "e-auth",
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def service(sender, clock) -> FulfillmentService:
    return FulfillmentService(
        DeciderRunner(decider(DEADLINE), InMemoryEventStore()), sender, sources=SOURCES, clock=clock
    )


def test_a_placed_order_asks_for_its_stock_payment_and_parcel_and_sets_its_deadline(service, sender):
    service.react(CREATED)
    kinds, commands = sender.take()
    assert kinds == [
        (INVENTORY, "ReserveStock"),
        (PAYMENTS, "RequestPayment"),
        (SHIPPING, "PlanShipment"),
        (DEADLINES, "CheckDeadline"),
    ]
    reserve, payment, plan, deadline = commands
    assert (reserve.group_id, payment.group_id, deadline.delay_seconds) == (ORDER, ORDER, 60)
    assert plan.group_id == ORDER
    assert plan.message.payload["lines"] == [{"sku": "SKU-TEA-001", "name": "Tea", "quantity": 2}]
    assert plan.message.payload["destination_country"] == "NL"
    assert reserve.message.payload["expires_at"] == (T0 + DEADLINE).isoformat()
    assert {c.message.causation_id for c in commands} == {"e-created"}
    assert {c.message.correlation_id for c in commands} == {"corr-1"}


def test_both_answers_confirm_the_order(service, sender):
    service.react(CREATED)
    service.react(RESERVED)
    sender.take()
    service.react(AUTHORIZED)
    kinds, (confirm, _, look) = sender.take()
    assert kinds == [(ORDERS, "ConfirmOrder"), (SHIPPING, "MarkShipmentReady"), (DEADLINES, "CheckDeadline")]
    assert look.message.payload["watch"] == "authorisation"  # looked at again before the provider drops it
    assert confirm.message.payload["payment_id"] == "p-1"


def test_a_redelivered_fact_records_nothing_and_sends_the_same_commands_again(service, sender):
    # GIVEN a crash between recording the decision and sending its commands
    sender.fail_next = True
    with pytest.raises(RuntimeError):
        service.react(CREATED)
    assert sender.take()[0] == []
    # WHEN the fact is redelivered
    reaction = service.react(CREATED)
    # THEN nothing is recorded twice and every command goes out, with the ids the first attempt had
    assert (reaction.replayed, reaction.recorded) == (True, ())
    _, first = sender.take()
    service.react(CREATED)
    _, again = sender.take()
    assert [c.message.command_id for c in first] == [c.message.command_id for c in again]
    assert len(first) == 4


def test_a_refused_line_cancels_releases_and_voids(service, sender):
    service.react(CREATED)
    sender.take()
    refused = published(
        "urn:i",
        "StockReservationRefused",
        {
            "sku": "SKU-TEA-001",
            "order_id": ORDER,
            "requested": 2,
            "available": 0,
            "refused_at": T0.isoformat(),
        },
        "e-ref",
    )
    service.react(refused)
    kinds, commands = sender.take()
    assert kinds == [
        (ORDERS, "CancelOrder"),
        (INVENTORY, "ReleaseStock"),
        (PAYMENTS, "VoidPayment"),
        (SHIPPING, "CancelShipment"),
    ]
    assert commands[0].message.payload["reason"] == "out_of_stock"


def test_an_early_deadline_message_is_sent_again_for_the_time_left(service, sender, clock):
    service.react(CREATED)
    _, (_, _, _, deadline) = sender.take()
    clock.now = T0 + timedelta(seconds=20)
    reaction = service.deadline(deadline.message)
    assert reaction.recorded == ()
    _, (again,) = sender.take()
    assert (again.queue, again.delay_seconds) == (DEADLINES, 40)


def test_the_deadline_cancels_what_has_not_answered(service, sender, clock):
    service.react(CREATED)
    service.react(RESERVED)
    _, commands = sender.take()
    deadline = next(c for c in commands if c.queue == DEADLINES)
    clock.now = T0 + DEADLINE + timedelta(seconds=1)
    reaction = service.deadline(deadline.message)
    assert reaction.recorded == ("FulfillmentCancelled",)
    kinds, commands = sender.take()
    assert kinds == [
        (ORDERS, "CancelOrder"),
        (INVENTORY, "ReleaseStock"),
        (PAYMENTS, "VoidPayment"),
        (SHIPPING, "CancelShipment"),
    ]
    assert commands[0].message.payload["reason"] == "payment_timeout"
    # and the late authorisation is voided, never applied
    service.react(AUTHORIZED)
    assert sender.take()[0] == [(PAYMENTS, "VoidPayment")]


def test_facts_it_needs_nothing_from_are_acknowledged_and_unknown_ones_refused(service, sender):
    confirmed = published(
        "urn:o",
        "OrderConfirmed",
        {"order_id": ORDER, "payment_id": "p", "confirmed_at": T0.isoformat()},
        "e-c",
    )
    assert service.react(confirmed).order_id is None
    with pytest.raises(UnexpectedEventError):
        service.react(published("urn:o", "OrderTeleported", {}, "e-x"))
    with pytest.raises(UnexpectedEventError, match="does not hear"):
        service.react(published("urn:elsewhere", "OrderCreated", CREATED.data, "e-y"))
    with pytest.raises(Exception, match="CheckDeadline"):
        service.deadline(CommandMessage(command_type="Other", command_id="c", payload={}))
    assert sender.take()[0] == []


def test_the_parcel_commits_the_stock_and_ships_then_delivers_the_order(service, sender):
    service.react(CREATED)
    service.react(RESERVED)
    service.react(AUTHORIZED)
    sender.take()
    at = T0.isoformat()
    dispatched = published(
        "urn:s",
        "ShipmentDispatched",
        {
            "shipment_id": "s-1",
            "order_id": ORDER,
            "carrier": "PostNL",
            "tracking_number": "TR-1",
            "dispatched_at": at,
        },
        "e-dis",
    )
    service.react(dispatched)
    kinds, commands = sender.take()
    assert kinds == [(INVENTORY, "CommitStock"), (ORDERS, "ShipOrder"), (PAYMENTS, "CapturePayment")]
    assert commands[1].message.payload["tracking_number"] == "TR-1"
    delivered = published(
        "urn:s", "ShipmentDelivered", {"shipment_id": "s-1", "order_id": ORDER, "delivered_at": at}, "e-del"
    )
    service.react(delivered)
    assert sender.take()[0] == [(ORDERS, "DeliverOrder")]


def test_the_authorisations_look_circulates_only_while_the_parcel_waits(service, sender, clock):
    service.react(CREATED)
    service.react(RESERVED)
    service.react(AUTHORIZED)
    _, commands = sender.take()
    look = next(c for c in commands if c.message.payload.get("watch") == "authorisation")
    # early (days to go): sent again while the parcel waits
    clock.now = T0 + timedelta(hours=1)
    assert service.deadline(look.message).sent == ("CheckDeadline",)
    sender.take()
    # once the parcel left, it is dropped instead of coming back every 15 minutes for days
    dispatched = published(
        "urn:s",
        "ShipmentDispatched",
        {"order_id": ORDER, "carrier": "PostNL", "tracking_number": "TR-1", "dispatched_at": T0.isoformat()},
        "e-dis",
    )
    service.react(dispatched)
    sender.take()
    assert service.deadline(look.message).sent == ()
    assert sender.take()[0] == []
