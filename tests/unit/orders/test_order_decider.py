"""The Order decider's rules, as given past events / when a command / then new events or an error."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from eventcore import EventNotApplicableError, RecordedEvent
from orders import (
    CancelOrder,
    ConfirmOrder,
    DeliverOrder,
    Order,
    OrderAlreadyCancelledError,
    OrderAlreadyExistsError,
    OrderAlreadyShippedError,
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderLine,
    OrderNotConfirmedError,
    OrderNotFoundError,
    OrderNotShippedError,
    OrderShipped,
    OrderStatus,
    PaymentMismatchError,
    PlaceOrder,
    PricedOrder,
    ShipOrder,
    order_decider,
    order_events,
)
from tests.support.deciders import DeciderSpec

ORDER = "5b0e4a3e-8a31-4a0c-9d4e-6f1e0c1f0a01"
CUSTOMER = "c-2f6d1c8e"
OTHER_CUSTOMER = "c-9a7b3e10"
PAYMENT = "p-11111111"
OTHER_PAYMENT = "p-22222222"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
T2 = T0 + timedelta(minutes=2)
T3 = T0 + timedelta(minutes=3)

LINE = OrderLine(sku="SKU-TEA-001", name="Green tea", quantity=2, unit_price=1250, line_total=2500)
PRICED = PricedOrder(
    lines=(LINE,),
    currency="EUR",
    subtotal=2500,
    discount=250,
    campaign_code="WELCOME10",
    shipping=495,
    total=2745,
)

spec = DeciderSpec(order_decider)

created = OrderCreated(
    order_id=ORDER,
    customer_id=CUSTOMER,
    lines=(LINE,),
    currency="EUR",
    subtotal=2500,
    discount=250,
    campaign_code="WELCOME10",
    shipping=495,
    total=2745,
    destination_country="NL",
    placed_at=T0,
)
confirmed = OrderConfirmed(order_id=ORDER, payment_id=PAYMENT, confirmed_at=T1)
cancelled = OrderCancelled(order_id=ORDER, reason="customer_request", cancelled_at=T2)
shipped = OrderShipped(order_id=ORDER, carrier="PostNL", tracking_number="TRACK-1", shipped_at=T2)


def place(at: datetime = T0) -> PlaceOrder:
    return PlaceOrder(order_id=ORDER, customer_id=CUSTOMER, priced=PRICED, destination_country="NL", at=at)


def confirm(payment_id: str = PAYMENT, at: datetime = T3) -> ConfirmOrder:
    return ConfirmOrder(order_id=ORDER, payment_id=payment_id, at=at)


def cancel(requested_by: str | None = CUSTOMER, at: datetime = T3) -> CancelOrder:
    return CancelOrder(order_id=ORDER, reason="customer_request", requested_by=requested_by, at=at)


def ship(at: datetime = T3) -> ShipOrder:
    return ShipOrder(order_id=ORDER, carrier="PostNL", tracking_number="TRACK-1", at=at)


class TestPlaceOrder:
    def test_placing_a_new_order_records_it_with_the_prices_given(self) -> None:
        spec.given().when(place()).then(created)

    def test_placing_an_order_that_exists_is_refused(self) -> None:
        spec.given(created).when(place(at=T1)).then_raises(OrderAlreadyExistsError, match=ORDER)

    def test_a_placed_order_awaits_payment(self) -> None:
        state = spec.given().when(place()).then(created)

        assert state == Order(
            order_id=ORDER,
            customer_id=CUSTOMER,
            status=OrderStatus.PENDING_PAYMENT,
            lines=(LINE,),
            currency="EUR",
            subtotal=2500,
            discount=250,
            campaign_code="WELCOME10",
            shipping=495,
            total=2745,
            destination_country="NL",
            placed_at=T0,
            updated_at=T0,
        )


class TestCommandsOnAMissingOrder:
    @pytest.mark.parametrize("command", [confirm(), cancel(), cancel(requested_by=None), ship()])
    def test_any_command_but_place_on_a_missing_order_is_not_found(
        self, command: ConfirmOrder | CancelOrder | ShipOrder
    ) -> None:
        error = spec.given().when(command).then_raises(OrderNotFoundError)

        assert error.order_id == ORDER


class TestConfirmOrder:
    def test_confirming_a_pending_order_records_its_payment(self) -> None:
        state = spec.given(created).when(confirm(at=T1)).then(confirmed)
        assert state is not None
        assert state.status is OrderStatus.CONFIRMED
        assert state.payment_id == PAYMENT
        assert state.updated_at == T1

    def test_confirming_again_with_the_same_payment_records_nothing(self) -> None:
        spec.given(created, confirmed).when(confirm()).then()

    def test_confirming_with_another_payment_is_a_mismatch(self) -> None:
        error = spec.given(created, confirmed).when(confirm(OTHER_PAYMENT)).then_raises(PaymentMismatchError)

        assert (error.confirmed_payment_id, error.payment_id) == (PAYMENT, OTHER_PAYMENT)

    def test_confirming_a_cancelled_order_is_refused(self) -> None:
        spec.given(created, cancelled).when(confirm()).then_raises(
            OrderAlreadyCancelledError, match="confirmed"
        )

    def test_confirming_a_shipped_order_with_its_payment_records_nothing(self) -> None:
        spec.given(created, confirmed, shipped).when(confirm()).then()

    def test_confirming_a_shipped_order_with_another_payment_is_a_mismatch(self) -> None:
        spec.given(created, confirmed, shipped).when(confirm(OTHER_PAYMENT)).then_raises(PaymentMismatchError)


class TestCancelOrder:
    def test_a_customer_cancels_their_pending_order(self) -> None:
        state = spec.given(created).when(cancel(at=T2)).then(cancelled)
        assert state is not None
        assert state.status is OrderStatus.CANCELLED
        assert state.cancellation_reason == "customer_request"
        assert state.updated_at == T2

    def test_a_confirmed_order_can_be_cancelled(self) -> None:
        spec.given(created, confirmed).when(cancel(at=T2)).then(cancelled)

    def test_the_system_cancels_an_order_whose_payment_was_declined(self) -> None:
        command = CancelOrder(order_id=ORDER, reason="payment_declined", requested_by=None, at=T1)

        spec.given(created).when(command).then(
            OrderCancelled(order_id=ORDER, reason="payment_declined", cancelled_at=T1)
        )

    def test_cancelling_twice_records_one_event(self) -> None:
        spec.given(created, cancelled).when(cancel()).then()

    def test_cancelling_a_shipped_order_is_refused(self) -> None:
        spec.given(created, confirmed, shipped).when(cancel()).then_raises(OrderAlreadyShippedError)

    def test_another_customers_order_reads_as_not_found(self) -> None:
        error = spec.given(created).when(cancel(requested_by=OTHER_CUSTOMER)).then_raises(OrderNotFoundError)

        assert str(error) == f"order {ORDER} not found"

    def test_another_customer_cannot_learn_an_order_was_shipped(self) -> None:
        given = spec.given(created, confirmed, shipped)

        given.when(cancel(requested_by=OTHER_CUSTOMER)).then_raises(OrderNotFoundError)


class TestShipOrder:
    def test_shipping_a_confirmed_order_records_it(self) -> None:
        state = spec.given(created, confirmed).when(ship(at=T2)).then(shipped)
        assert state is not None
        assert state.status is OrderStatus.SHIPPED
        assert state.payment_id == PAYMENT
        assert state.updated_at == T2

    def test_an_unpaid_order_cannot_ship(self) -> None:
        spec.given(created).when(ship()).then_raises(OrderNotConfirmedError, match="awaiting payment")

    def test_a_cancelled_order_cannot_ship(self) -> None:
        spec.given(created, cancelled).when(ship()).then_raises(OrderAlreadyCancelledError, match="shipped")

    def test_shipping_twice_records_one_event(self) -> None:
        spec.given(created, confirmed, shipped).when(ship()).then()

    def test_the_order_shows_its_carrier_and_tracking_number(self) -> None:
        state = order_decider.fold([created, confirmed, shipped], None)
        assert state is not None
        assert (state.carrier, state.tracking_number) == ("PostNL", "TRACK-1")

    def test_a_shipped_order_can_no_longer_be_cancelled_by_its_customer(self) -> None:
        spec.given(created, confirmed, shipped).when(cancel()).then_raises(
            OrderAlreadyShippedError, match="ask for a return"
        )


class TestDeliverOrder:
    def test_a_shipped_order_is_delivered_once(self) -> None:
        delivered = OrderDelivered(order_id=ORDER, delivered_at=T2)
        state = (
            spec.given(created, confirmed, shipped).when(DeliverOrder(order_id=ORDER, at=T2)).then(delivered)
        )
        assert state is not None
        assert state.status is OrderStatus.DELIVERED
        spec.given(created, confirmed, shipped, delivered).when(DeliverOrder(order_id=ORDER, at=T2)).then()
        spec.given(created, confirmed, shipped, delivered).when(cancel()).then_raises(
            OrderAlreadyShippedError
        )

    def test_an_order_not_shipped_cannot_be_delivered(self) -> None:
        spec.given(created, confirmed).when(DeliverOrder(order_id=ORDER, at=T2)).then_raises(
            OrderNotShippedError
        )


class TestOrderShippedSchema:
    def test_a_v1_event_reads_with_no_carrier(self) -> None:
        v1 = RecordedEvent(
            "e", "OrderShipped", 1, json.dumps({"order_id": ORDER, "shipped_at": T2.isoformat()}), "t"
        )
        upcast = order_events.decode(v1)
        assert isinstance(upcast, OrderShipped)
        assert (upcast.carrier, upcast.tracking_number) == (None, None)


class TestEvolve:
    def test_an_event_before_the_order_exists_is_a_broken_log(self) -> None:
        with pytest.raises(EventNotApplicableError, match="OrderConfirmed"):
            order_decider.fold([confirmed], None)

    def test_a_second_creation_is_a_broken_log(self) -> None:
        with pytest.raises(EventNotApplicableError, match="OrderCreated"):
            order_decider.fold([created, created], None)

    def test_state_survives_a_snapshot_round_trip(self) -> None:
        state = order_decider.fold([created, confirmed, shipped], None)

        assert order_decider.load_state(order_decider.dump_state(state)) == state

    def test_no_state_survives_a_snapshot_round_trip(self) -> None:
        assert order_decider.load_state(order_decider.dump_state(None)) is None


class TestOrderCreatedSchema:
    def test_a_v1_event_is_upcast_renaming_country_to_destination_country(self) -> None:
        # GIVEN an OrderCreated as schema version 1 stored it
        v1 = created.model_dump(mode="json", exclude={"destination_country", "personal"}) | {"country": "NL"}

        # WHEN it is read back
        event = order_events.decode_data("OrderCreated", 1, v1)

        # THEN it is today's event, with the same facts
        assert event == created

    def test_the_current_version_round_trips_through_the_registry(self) -> None:
        recorded = order_events.encode(created, event_id="e-1", recorded_at="2026-03-01T09:00:00Z")

        assert recorded.schema_version == 4
        assert order_events.decode(recorded) == created

    def test_a_v3_event_is_upcast_paid_with_the_card_on_file(self) -> None:
        # GIVEN an OrderCreated as schema version 3 stored it, before checkout took a payment method
        v3 = created.model_dump(mode="json", exclude={"payment_method"})

        # WHEN it is read back
        event = order_events.decode_data("OrderCreated", 3, v3)

        # THEN it names no payment method: payments uses the customer's card on file
        assert event == created.model_copy(update={"payment_method": None})

    def test_a_v2_event_is_upcast_with_no_personal_data(self) -> None:
        # GIVEN an OrderCreated as schema version 2 stored it, before orders carried sealed personal data
        v2 = created.model_dump(mode="json", exclude={"personal"})

        # WHEN it is read back
        event = order_events.decode_data("OrderCreated", 2, v2)

        # THEN it is today's event, with nothing personal
        assert event == created.model_copy(update={"personal": None})
