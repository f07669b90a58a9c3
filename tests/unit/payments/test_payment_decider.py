"""The Payment decider's rules, as given past events / when a command / then new events or an error."""

from datetime import UTC, datetime, timedelta

import pytest

from eventcore import EventNotApplicableError
from payments import (
    AuthorizePayment,
    DeclinePayment,
    PaymentAlreadySettledError,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentNotRequestedError,
    PaymentRequested,
    PaymentRequestMismatchError,
    PaymentStatus,
    PaymentVoided,
    RequestPayment,
    VoidPayment,
    payment_decider,
    payment_events,
    payment_id_for,
)
from tests.support.deciders import DeciderSpec

ORDER = "5b0e4a3e-8a31-4a0c-9d4e-6f1e0c1f0a01"
PAYMENT = payment_id_for(ORDER)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
T2 = T0 + timedelta(minutes=2)

spec = DeciderSpec(payment_decider)

request = RequestPayment(
    payment_id=PAYMENT,
    order_id=ORDER,
    customer_id="c-1",
    amount=2745,
    currency="EUR",
    card_token="c-1",
    at=T0,
)
requested = PaymentRequested(
    payment_id=PAYMENT,
    order_id=ORDER,
    customer_id="c-1",
    amount=2745,
    currency="EUR",
    card_token="c-1",
    requested_at=T0,
)
authorize = AuthorizePayment(payment_id=PAYMENT, authorization_id="auth-1", at=T1)
authorized = PaymentAuthorized(
    payment_id=PAYMENT,
    order_id=ORDER,
    amount=2745,
    currency="EUR",
    authorization_id="auth-1",
    authorized_at=T1,
)
decline = DeclinePayment(payment_id=PAYMENT, reason="card declined", at=T1)
declined = PaymentDeclined(payment_id=PAYMENT, order_id=ORDER, reason="card declined", declined_at=T1)
void = VoidPayment(payment_id=PAYMENT, order_id=ORDER, reason="order cancelled: customer_request", at=T2)


def voided(authorization_id: str | None) -> PaymentVoided:
    return PaymentVoided(
        payment_id=PAYMENT,
        order_id=ORDER,
        reason="order cancelled: customer_request",
        authorization_id=authorization_id,
        voided_at=T2,
    )


class TestPaymentId:
    def test_is_the_same_for_every_delivery_of_an_order(self):
        assert payment_id_for(ORDER) == payment_id_for(ORDER)
        assert payment_id_for(ORDER) != payment_id_for("another-order")


class TestRequestPayment:
    def test_a_new_payment_is_requested(self):
        state = spec.given().when(request).then(requested)
        assert state.status is PaymentStatus.REQUESTED
        assert state.amount == 2745

    def test_requesting_again_records_nothing(self):
        spec.given(requested).when(request).then()
        spec.given(requested, authorized).when(request).then()

    def test_a_request_after_the_order_was_cancelled_records_nothing(self):
        spec.given(voided(None)).when(request).then()

    def test_a_different_amount_for_the_same_payment_is_refused(self):
        spec.given(requested).when(request.model_copy(update={"amount": 1})).then_raises(
            PaymentRequestMismatchError
        )


class TestAuthorizePayment:
    def test_a_requested_payment_is_authorised(self):
        state = spec.given(requested).when(authorize).then(authorized)
        assert state.status is PaymentStatus.AUTHORIZED
        assert state.authorization_id == "auth-1"

    def test_the_same_authorisation_again_records_nothing(self):
        spec.given(requested, authorized).when(authorize).then()

    def test_a_second_different_authorisation_is_refused(self):
        other = authorize.model_copy(update={"authorization_id": "auth-2"})
        spec.given(requested, authorized).when(other).then_raises(PaymentAlreadySettledError)

    def test_a_declined_or_voided_payment_cannot_be_authorised(self):
        spec.given(requested, declined).when(authorize).then_raises(PaymentAlreadySettledError, "declined")
        spec.given(requested, voided(None)).when(authorize).then_raises(PaymentAlreadySettledError, "voided")

    def test_a_payment_never_requested_cannot_be_authorised(self):
        spec.given().when(authorize).then_raises(PaymentNotRequestedError)


class TestDeclinePayment:
    def test_a_requested_payment_is_declined(self):
        state = spec.given(requested).when(decline).then(declined)
        assert state.status is PaymentStatus.DECLINED

    def test_declining_twice_records_one_event(self):
        spec.given(requested, declined).when(decline).then()

    def test_an_authorised_payment_cannot_be_declined(self):
        spec.given(requested, authorized).when(decline).then_raises(PaymentAlreadySettledError, "authorized")


class TestVoidPayment:
    def test_an_authorised_payment_is_voided_with_its_authorisation(self):
        state = spec.given(requested, authorized).when(void).then(voided("auth-1"))
        assert state.status is PaymentStatus.VOIDED

    def test_a_requested_payment_is_voided_before_any_authorisation(self):
        spec.given(requested).when(void).then(voided(None))

    def test_a_cancellation_before_the_request_leaves_a_tombstone(self):
        state = spec.given().when(void).then(voided(None))
        assert state.status is PaymentStatus.VOIDED

    def test_voiding_a_declined_or_voided_payment_records_nothing(self):
        spec.given(requested, declined).when(void).then()
        spec.given(requested, authorized, voided("auth-1")).when(void).then()


class TestEvents:
    def test_every_event_round_trips_through_the_registry(self):
        for event in (requested, authorized, declined, voided("auth-1")):
            recorded = payment_events.encode(event, event_id="e-1", recorded_at="2026-03-01T09:00:00Z")
            assert payment_events.decode(recorded) == event


class TestEvolve:
    def test_an_authorisation_before_the_request_is_a_broken_log(self):
        with pytest.raises(EventNotApplicableError, match="PaymentAuthorized"):
            payment_decider.fold([authorized], None)

    def test_a_second_request_is_a_broken_log(self):
        with pytest.raises(EventNotApplicableError, match="PaymentRequested"):
            payment_decider.fold([requested, requested], None)
