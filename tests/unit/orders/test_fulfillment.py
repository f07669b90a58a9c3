"""The order-fulfillment process manager's decisions (given what it heard, when a fact or its deadline, then
what it records), how it reads the other contexts' events, and the command messages it queues."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from eventcore import Event, EventRegistry, RecordedEvent, UnsupportedSchemaVersionError
from eventcore.messaging.inbound import (
    MalformedMessageError,
    UnexpectedEventError,
    deduplication_id,
    parse_command_message,
    read_published_event,
)
from eventcore.write.command_ids import Cause
from inventory.events import (
    StockCommitted,
    StockMovedIn,
    StockMovedOut,
    StockOpened,
    StockReceived,
    StockReleased,
    StockSplit,
)
from inventory.events import StockReservationRefused as InventoryRefused
from inventory.events import StockReserved as InventoryReserved
from orders import ConfirmOrder, OrderCancelled, OrderCreated
from orders.fulfillment import FulfillmentNotStartedError, decider
from orders.fulfillment.events import (
    AuthorisationWatched,
    CancellationRacedDispatch,
    DeliveryRecorded,
    DispatchRecorded,
    FulfillmentCancelled,
    FulfillmentCompleted,
    FulfillmentLine,
    FulfillmentStarted,
    LateAnswerCompensated,
    ParcelDetails,
    ParcelLine,
    PaymentAnswered,
    StockAnswered,
    fulfillment_events,
)
from orders.fulfillment.inbound import (
    PAYMENT_EVENTS,
    SHIPMENT_EVENTS,
    STOCK_EVENTS,
    DeadlinePassed,
    PaymentAuthorized,
    PaymentDeclined,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentUndeliverable,
    StockReservationRefused,
    StockReserved,
)
from orders.fulfillment.outbound import DEADLINES, INVENTORY, PAYMENTS, commands_for
from orders.pricing import OrderLine
from orders.queued import read_queued_command
from payments.events import PaymentAuthorized as PaymentsAuthorized
from payments.events import (
    PaymentCaptured,
    PaymentCaptureFailed,
    PaymentRefunded,
    PaymentRefundRequested,
    PaymentRequested,
    PaymentVoided,
)
from payments.events import PaymentDeclined as PaymentsDeclined
from shipping.events import ShipmentCancelled, ShipmentPlanned, ShipmentReady
from shipping.events import ShipmentDelivered as Delivered
from shipping.events import ShipmentDispatched as Dispatched
from shipping.events import ShipmentUndeliverable as Undeliverable
from tests.support.deciders import DeciderSpec

ORDER = "0f8e4c1a-3b2d-4e6f-9a7b-1c2d3e4f5a6b"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DEADLINE = timedelta(minutes=5)
T1, T2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
AFTER_DEADLINE = T0 + DEADLINE + timedelta(seconds=1)
AT = "2026-03-01T09:00:00Z"

spec = DeciderSpec(decider(DEADLINE))

created = OrderCreated(
    order_id=ORDER,
    customer_id="alice",
    lines=(
        OrderLine(sku="SKU-TEA-001", name="Green tea", quantity=2, unit_price=1250, line_total=2500),
        OrderLine(sku="SKU-MUG-001", name="Mug", quantity=1, unit_price=1800, line_total=1800),
    ),
    currency="EUR",
    subtotal=4300,
    discount=0,
    campaign_code=None,
    shipping=495,
    total=4795,
    destination_country="NL",
    placed_at=T0,
)
started = FulfillmentStarted(
    order_id=ORDER,
    customer_id="alice",
    lines=(FulfillmentLine(sku="SKU-TEA-001", quantity=2), FulfillmentLine(sku="SKU-MUG-001", quantity=1)),
    amount=4795,
    currency="EUR",
    parcel=ParcelDetails(
        lines=(
            ParcelLine(sku="SKU-TEA-001", name="Green tea", quantity=2),
            ParcelLine(sku="SKU-MUG-001", name="Mug", quantity=1),
        ),
        destination_country="NL",
    ),
    deadline_at=T0 + DEADLINE,
    started_at=T0,
)


def stock_reserved(sku: str, at: datetime = T1) -> StockReserved:
    return StockReserved(sku=sku, order_id=ORDER, reserved_at=at)


def held(sku: str, at: datetime = T1) -> StockAnswered:
    return StockAnswered(order_id=ORDER, sku=sku, reserved=True, answered_at=at)


authorized = PaymentAuthorized(payment_id="p-1", order_id=ORDER, authorized_at=T1)
paid = PaymentAnswered(order_id=ORDER, payment_id="p-1", authorized=True, reason=None, answered_at=T1)


def cancelled(reason: str, at: datetime = T1, *, cancel_order: bool = True) -> FulfillmentCancelled:
    return FulfillmentCancelled(order_id=ORDER, reason=reason, cancel_order=cancel_order, cancelled_at=at)


class TestStart:
    def test_a_placed_order_starts_its_fulfillment_with_a_deadline(self):
        spec.given().when(created).then(started)

    def test_a_redelivered_order_starts_nothing_again(self):
        spec.given(started).when(created).then()

    def test_an_answer_before_the_start_waits_for_the_order(self):
        spec.given().when(authorized).then_raises(FulfillmentNotStartedError)


def watched(at: datetime) -> AuthorisationWatched:
    """The authorisation looked at again before it expires (held 7 days by default, looked at after 90%)."""
    return AuthorisationWatched(
        order_id=ORDER, expires_at=at + timedelta(days=7), check_at=at + timedelta(days=7) * 0.9
    )


class TestConfirmation:
    def test_every_line_held_and_the_payment_authorised_completes_it(self):
        spec.given(started, held("SKU-TEA-001"), paid).when(stock_reserved("SKU-MUG-001", T2)).then(
            held("SKU-MUG-001", T2),
            FulfillmentCompleted(order_id=ORDER, payment_id="p-1", completed_at=T2),
            watched(T2),
        )

    def test_the_answers_in_any_order_complete_it_once(self):
        given = spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"))
        given.when(authorized).then(
            paid, FulfillmentCompleted(order_id=ORDER, payment_id="p-1", completed_at=T1), watched(T1)
        )

    def test_a_repeated_answer_changes_nothing(self):
        spec.given(started, held("SKU-TEA-001")).when(stock_reserved("SKU-TEA-001", T2)).then()
        spec.given(started, paid).when(authorized).then()


class TestCancellation:
    def test_a_refused_line_cancels_the_order_out_of_stock(self):
        refused = StockReservationRefused(sku="SKU-MUG-001", order_id=ORDER, available=0, refused_at=T1)
        spec.given(started, held("SKU-TEA-001")).when(refused).then(
            StockAnswered(order_id=ORDER, sku="SKU-MUG-001", reserved=False, answered_at=T1),
            cancelled("out_of_stock"),
        )

    def test_a_declined_payment_cancels_the_order(self):
        declined = PaymentDeclined(payment_id="p-1", order_id=ORDER, reason="card declined", declined_at=T1)
        spec.given(started).when(declined).then(
            PaymentAnswered(
                order_id=ORDER, payment_id="p-1", authorized=False, reason="card declined", answered_at=T1
            ),
            cancelled("payment_declined"),
        )

    def test_the_customers_cancellation_compensates_without_cancelling_again(self):
        by_customer = OrderCancelled(order_id=ORDER, reason="customer_request", cancelled_at=T2)
        spec.given(started, held("SKU-TEA-001")).when(by_customer).then(
            cancelled("customer_request", T2, cancel_order=False)
        )
        # after the confirmation too: what is held must go back, the payment be voided
        done = FulfillmentCompleted(order_id=ORDER, payment_id="p-1", completed_at=T1)
        spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, done).when(by_customer).then(
            cancelled("customer_request", T2, cancel_order=False)
        )

    def test_the_cancellation_it_caused_itself_is_not_compensated_twice(self):
        own = OrderCancelled(order_id=ORDER, reason="out_of_stock", cancelled_at=T2)
        spec.given(started, cancelled("out_of_stock")).when(own).then()


class TestDeadline:
    def test_no_stock_answer_by_the_deadline_is_a_stock_timeout(self):
        spec.given(started, paid).when(DeadlinePassed(order_id=ORDER, at=AFTER_DEADLINE)).then(
            cancelled("stock_timeout", AFTER_DEADLINE)
        )

    def test_no_payment_answer_by_the_deadline_is_a_payment_timeout(self):
        given = spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"))
        given.when(DeadlinePassed(order_id=ORDER, at=AFTER_DEADLINE)).then(
            cancelled("payment_timeout", AFTER_DEADLINE)
        )

    def test_a_deadline_read_early_or_after_the_outcome_changes_nothing(self):
        spec.given(started).when(DeadlinePassed(order_id=ORDER, at=T2)).then()
        done = FulfillmentCompleted(order_id=ORDER, payment_id="p-1", completed_at=T1)
        spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, done).when(
            DeadlinePassed(order_id=ORDER, at=AFTER_DEADLINE)
        ).then()

    def test_a_late_authorisation_is_compensated_not_applied(self):
        late = PaymentAuthorized(payment_id="p-1", order_id=ORDER, authorized_at=AFTER_DEADLINE)
        spec.given(started, cancelled("payment_timeout", AFTER_DEADLINE)).when(late).then(
            LateAnswerCompensated(order_id=ORDER, kind="payment", sku=None, compensated_at=AFTER_DEADLINE)
        )

    def test_a_late_reservation_is_given_back(self):
        late = stock_reserved("SKU-MUG-001", AFTER_DEADLINE)
        spec.given(started, cancelled("stock_timeout", AFTER_DEADLINE)).when(late).then(
            LateAnswerCompensated(
                order_id=ORDER, kind="stock", sku="SKU-MUG-001", compensated_at=AFTER_DEADLINE
            )
        )

    def test_a_late_refusal_or_decline_needs_nothing(self):
        given = spec.given(started, cancelled("stock_timeout", AFTER_DEADLINE))
        given.when(
            StockReservationRefused(sku="SKU-MUG-001", order_id=ORDER, available=0, refused_at=T2)
        ).then()
        given.when(PaymentDeclined(payment_id="p-1", order_id=ORDER, reason="no", declined_at=T2)).then()


class TestInboundEvents:
    def test_every_payment_and_inventory_event_type_is_either_acted_on_or_ignored_explicitly(self):
        # No filter on the event source mappings: every type published reaches the process manager.
        payments = {
            e.event_type()
            for e in (
                PaymentRequested,
                PaymentsAuthorized,
                PaymentsDeclined,
                PaymentVoided,
                PaymentCaptured,
                PaymentCaptureFailed,
                PaymentRefundRequested,
                PaymentRefunded,
            )
        }
        assert payments == set(PAYMENT_EVENTS.handled) | PAYMENT_EVENTS.ignored
        stock = {
            e.event_type()
            for e in (
                StockOpened,
                StockSplit,
                StockMovedOut,
                StockMovedIn,
                StockReceived,
                InventoryReserved,
                InventoryRefused,
                StockReleased,
                StockCommitted,
            )
        }
        assert stock == set(STOCK_EVENTS.handled) | STOCK_EVENTS.ignored
        shipments = {
            e.event_type()
            for e in (ShipmentPlanned, ShipmentReady, Dispatched, Delivered, ShipmentCancelled, Undeliverable)
        }
        assert shipments == set(SHIPMENT_EVENTS.handled) | SHIPMENT_EVENTS.ignored

    def test_data_that_breaks_the_schema_is_malformed(self):
        with pytest.raises(MalformedMessageError, match="PaymentAuthorized v1 data is invalid"):
            PAYMENT_EVENTS.read("PaymentAuthorized", 1, {"order_id": "o-1"})

    @pytest.mark.parametrize(
        ("event_type", "version", "match"),
        [
            ("PaymentChargedBack", 1, "unknown payment event type"),
            ("PaymentAuthorized", 2, "schema version 2"),
        ],
    )
    def test_anything_else_is_unexpected(self, event_type, version, match):
        with pytest.raises(UnexpectedEventError, match=match):
            PAYMENT_EVENTS.read(event_type, version, {})


class TestQueuedOrderCommands:
    def test_a_queued_confirmation_round_trips(self):
        from eventcore.messaging.inbound import CommandMessage

        command = ConfirmOrder(order_id="o-1", payment_id="p-1", at=datetime(2026, 3, 1, tzinfo=UTC))
        message = CommandMessage(
            command_type="ConfirmOrder",
            command_id="ConfirmOrder:e-9",
            payload=command.model_dump(mode="json"),
            correlation_id="corr-1",
            causation_id="e-9",
        )
        entry = message.sqs_entry(group_id="o-1")
        assert entry["MessageGroupId"] == "o-1"
        assert entry["MessageDeduplicationId"] == deduplication_id("ConfirmOrder:e-9")
        assert len(entry["MessageDeduplicationId"]) <= 128
        assert read_queued_command(parse_command_message(entry["MessageBody"])) == command

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
        from eventcore import Commit, RecordedEvent
        from eventcore.messaging.cloudevents import commit_to_cloudevents, encode

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
        assert (event.source, event.event_type, event.schema_version, event.event_id) == (
            "urn:x:payments",
            "PaymentAuthorized",
            1,
            "e-1",
        )
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


class TestShipping:
    completed = FulfillmentCompleted(order_id=ORDER, payment_id="p-1", completed_at=T1)
    dispatched = ShipmentDispatched(
        order_id=ORDER, carrier="PostNL", tracking_number="TR-1", dispatched_at=T2
    )

    def test_a_dispatched_parcel_is_recorded_once(self):
        given = spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, self.completed)
        recorded = DispatchRecorded(
            order_id=ORDER, carrier="PostNL", tracking_number="TR-1", capture=started.amount, dispatched_at=T2
        )
        given.when(self.dispatched).then(recorded)
        spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, self.completed, recorded).when(
            self.dispatched
        ).then()

    def test_a_delivery_follows_the_dispatch(self):
        recorded = DispatchRecorded(
            order_id=ORDER, carrier="PostNL", tracking_number="TR-1", dispatched_at=T2
        )
        given = spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, self.completed, recorded)
        given.when(ShipmentDelivered(order_id=ORDER, delivered_at=AFTER_DEADLINE)).then(
            DeliveryRecorded(order_id=ORDER, delivered_at=AFTER_DEADLINE)
        )

    def test_a_reservation_heard_after_the_parcel_left_is_given_back(self):
        # a reservation redelivered beyond its stock bucket's window is decided again: held a second time
        recorded = DispatchRecorded(
            order_id=ORDER, carrier="PostNL", tracking_number="TR-1", dispatched_at=T2
        )
        given = spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, self.completed, recorded)
        given.when(stock_reserved("SKU-TEA-001", AFTER_DEADLINE)).then(
            LateAnswerCompensated(
                order_id=ORDER, kind="stock", sku="SKU-TEA-001", compensated_at=AFTER_DEADLINE
            )
        )
        # before the parcel leaves, the order still holds it: the stock itself answers a repeat with nothing
        spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, self.completed).when(
            stock_reserved("SKU-TEA-001", AFTER_DEADLINE)
        ).then()

    def test_a_cancellation_that_raced_the_dispatch_undoes_nothing_and_is_recorded_for_a_person(self):
        # the parcel left first, then the customer's cancellation (accepted before the order knew)
        recorded = DispatchRecorded(
            order_id=ORDER, carrier="PostNL", tracking_number="TR-1", dispatched_at=T2
        )
        given = spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, self.completed, recorded)
        by_customer = OrderCancelled(order_id=ORDER, reason="customer_request", cancelled_at=AFTER_DEADLINE)
        given.when(by_customer).then(CancellationRacedDispatch(order_id=ORDER, noticed_at=AFTER_DEADLINE))
        # the cancellation first, then the parcel
        given = spec.given(
            started,
            held("SKU-TEA-001"),
            held("SKU-MUG-001"),
            paid,
            self.completed,
            cancelled("customer_request", T1, cancel_order=False),
        )
        given.when(self.dispatched).then(CancellationRacedDispatch(order_id=ORDER, noticed_at=T2))

    def test_an_undeliverable_parcel_cancels_the_order_and_undoes_everything(self):
        # the customer's personal data was erased after the order was confirmed, before the parcel left
        given = spec.given(started, held("SKU-TEA-001"), held("SKU-MUG-001"), paid, self.completed)
        undeliverable = ShipmentUndeliverable(order_id=ORDER, reason="address_erased", noticed_at=T2)
        given.when(undeliverable).then(cancelled("address_erased", T2))
        # once cancelled (or once the parcel left), it changes nothing
        spec.given(started, held("SKU-TEA-001"), cancelled("out_of_stock")).when(undeliverable).then()


# FulfillmentStarted as a v1 process recorded it, before the process drove shipping: no `parcel`.
STARTED_V1 = {
    "order_id": ORDER,
    "customer_id": "alice",
    "lines": [{"sku": "SKU-TEA-001", "quantity": 2}, {"sku": "SKU-MUG-001", "quantity": 1}],
    "amount": 4795,
    "currency": "EUR",
    "deadline_at": "2026-11-26T10:05:00Z",
    "started_at": "2026-11-26T10:00:00Z",
}


def recorded(data: dict, schema_version: int) -> RecordedEvent:
    return RecordedEvent("e-started", "FulfillmentStarted", schema_version, json.dumps(data), AT)


class TestAProcessStartedBeforeItDroveShipping:
    def test_its_fulfillment_started_v1_reads_with_no_parcel(self):
        event = fulfillment_events.decode(recorded(STARTED_V1, 1))
        assert isinstance(event, FulfillmentStarted)
        assert event.parcel is None
        assert event == started.model_copy(update={"parcel": None})

    def test_it_sends_no_plan_shipment(self):
        # GIVEN a v1 start read back from the log (shipping planned such a parcel from the order's events)
        event = fulfillment_events.decode(recorded(STARTED_V1, 1))
        # WHEN the process sends what its start calls for (as again after a crash, or on a promotion)
        commands = commands_for(event, Cause("e-started"), ["SKU-TEA-001", "SKU-MUG-001"], T0)
        # THEN the stock, the payment and the deadline, and nothing to shipping
        assert [(c.queue, c.message.command_type) for c in commands] == [
            (INVENTORY, "ReserveStock"),
            (INVENTORY, "ReserveStock"),
            (PAYMENTS, "RequestPayment"),
            (DEADLINES, "CheckDeadline"),
        ]

    def test_code_that_knows_only_v1_cannot_read_v2(self):
        # What a rollback to code from before v2 meets in the log (docs/event-catalogue.md says so).
        class FulfillmentStarted(Event):  # the v1 model, as that code had it
            schema_version: ClassVar[int] = 1

        older = EventRegistry([FulfillmentStarted])
        written = fulfillment_events.encode(started, event_id="e-started", recorded_at=AT)
        assert written.schema_version == 3
        with pytest.raises(UnsupportedSchemaVersionError, match="newer than this code's version 1"):
            older.decode(written)
