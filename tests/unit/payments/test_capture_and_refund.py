"""Capture and refunds: the Payment decider's rules (given/when/then), the fake provider's behaviour as real
providers document it, and the payments service with the provider unavailable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventcore import DeciderRunner, InMemoryEventStore
from eventcore.messaging.inbound import CommandMessage
from payments import (
    AuthorizationRequest,
    Captured,
    CapturePayment,
    CaptureRequest,
    FailCapture,
    FakePaymentProvider,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentCaptureFailed,
    PaymentNotCapturableError,
    PaymentRefunded,
    PaymentRefundRequested,
    PaymentRequested,
    PaymentService,
    PaymentStatus,
    ProviderUnavailableError,
    RecordRefund,
    RefundAboveCaptureError,
    Refunded,
    RefundMismatchError,
    RefundRequest,
    Refused,
    RequestRefund,
    VoidPayment,
    payment_decider,
    payment_id_for,
)
from tests.support.deciders import DeciderSpec

ORDER = "5b0e4a3e-8a31-4a0c-9d4e-6f1e0c1f0a01"
PAYMENT = payment_id_for(ORDER)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T1, T2, T3 = (T0 + timedelta(minutes=n) for n in (1, 2, 3))

spec = DeciderSpec(payment_decider)
requested = PaymentRequested(
    payment_id=PAYMENT,
    order_id=ORDER,
    customer_id="c-1",
    amount=2745,
    currency="EUR",
    card_token="pm_card_visa",
    requested_at=T0,
)
authorized = PaymentAuthorized(
    payment_id=PAYMENT,
    order_id=ORDER,
    amount=2745,
    currency="EUR",
    authorization_id="auth-1",
    authorized_at=T1,
)
capture = CapturePayment(payment_id=PAYMENT, amount=2745, capture_id="cap-1", at=T2)
captured = PaymentCaptured(
    payment_id=PAYMENT, order_id=ORDER, amount=2745, currency="EUR", capture_id="cap-1", captured_at=T2
)


def refund_requested(refund_id: str, amount: int) -> PaymentRefundRequested:
    return PaymentRefundRequested(
        payment_id=PAYMENT,
        order_id=ORDER,
        refund_id=refund_id,
        amount=amount,
        currency="EUR",
        requested_at=T3,
    )


class TestCapture:
    def test_an_authorised_payment_is_captured(self):
        state = spec.given(requested, authorized).when(capture).then(captured)
        assert (state.status, state.captured, state.refundable) == (PaymentStatus.CAPTURED, 2745, 2745)

    def test_a_partial_capture_takes_less_than_the_authorisation(self):
        partial = capture.model_copy(update={"amount": 1000})
        state = (
            spec.given(requested, authorized).when(partial).then(captured.model_copy(update={"amount": 1000}))
        )
        assert state.refundable == 1000

    def test_the_same_capture_again_records_nothing_and_another_is_refused(self):
        spec.given(requested, authorized, captured).when(capture).then()
        spec.given(requested, authorized, captured).when(
            capture.model_copy(update={"capture_id": "cap-2"})
        ).then_raises(Exception, match="captured again")

    def test_a_payment_never_authorised_is_not_captured(self):
        spec.given(requested).when(capture).then_raises(PaymentNotCapturableError)

    def test_a_refused_capture_is_recorded_once(self):
        fail = FailCapture(payment_id=PAYMENT, reason="the authorisation has expired", at=T2)
        failed = PaymentCaptureFailed(
            payment_id=PAYMENT, order_id=ORDER, reason="the authorisation has expired", failed_at=T2
        )
        state = spec.given(requested, authorized).when(fail).then(failed)
        assert state.status is PaymentStatus.CAPTURE_FAILED
        spec.given(requested, authorized, failed).when(fail).then()

    def test_a_void_after_the_capture_changes_nothing(self):
        void = VoidPayment(payment_id=PAYMENT, order_id=ORDER, reason="raced", at=T3)
        spec.given(requested, authorized, captured).when(void).then()


class TestRefund:
    def test_several_partial_refunds_up_to_the_capture(self):
        first = RequestRefund(payment_id=PAYMENT, refund_id="r-1", amount=2000, at=T3)
        state = spec.given(requested, authorized, captured).when(first).then(refund_requested("r-1", 2000))
        assert state.refundable == 745
        second = RequestRefund(payment_id=PAYMENT, refund_id="r-2", amount=745, at=T3)
        spec.given(requested, authorized, captured, refund_requested("r-1", 2000)).when(second).then(
            refund_requested("r-2", 745)
        )

    def test_a_refund_above_what_is_left_is_refused(self):
        too_much = RequestRefund(payment_id=PAYMENT, refund_id="r-2", amount=746, at=T3)
        spec.given(requested, authorized, captured, refund_requested("r-1", 2000)).when(too_much).then_raises(
            RefundAboveCaptureError
        )

    def test_a_refund_before_any_capture_is_refused(self):
        refund = RequestRefund(payment_id=PAYMENT, refund_id="r-1", amount=1, at=T3)
        spec.given(requested, authorized).when(refund).then_raises(RefundAboveCaptureError)

    def test_the_same_refund_again_records_nothing_and_another_amount_is_refused(self):
        given = (requested, authorized, captured, refund_requested("r-1", 2000))
        spec.given(*given).when(RequestRefund(payment_id=PAYMENT, refund_id="r-1", amount=2000, at=T3)).then()
        spec.given(*given).when(
            RequestRefund(payment_id=PAYMENT, refund_id="r-1", amount=1, at=T3)
        ).then_raises(RefundMismatchError)

    def test_the_providers_refund_is_recorded_once(self):
        record = RecordRefund(payment_id=PAYMENT, refund_id="r-1", provider_refund_id="re-1", at=T3)
        made = PaymentRefunded(
            payment_id=PAYMENT,
            order_id=ORDER,
            refund_id="r-1",
            amount=2000,
            currency="EUR",
            provider_refund_id="re-1",
            refunded_at=T3,
        )
        given = (requested, authorized, captured, refund_requested("r-1", 2000))
        state = spec.given(*given).when(record).then(made)
        assert (state.refunded, state.refundable) == (2000, 745)
        spec.given(*given, made).when(record).then()
        spec.given(*given).when(record.model_copy(update={"refund_id": "r-9"})).then_raises(
            RefundMismatchError
        )


class TestTheFakeProvider:
    @pytest.fixture
    def provider(self) -> FakePaymentProvider:
        provider = FakePaymentProvider()
        provider.authorize(AuthorizationRequest(PAYMENT, 2745, "EUR", "pm_card_visa", ORDER))
        return provider

    def test_captures_once_per_key_and_once_per_authorisation(self, provider):
        first = provider.capture(CaptureRequest("k-1", PAYMENT, 2000))
        assert isinstance(first, Captured)
        assert provider.capture(CaptureRequest("k-1", PAYMENT, 2000)) == first
        assert isinstance(provider.capture(CaptureRequest("k-2", PAYMENT, 2000)), Refused)
        assert (provider.ledger[PAYMENT].captured, provider.ledger[PAYMENT].captures) == (2000, 1)

    def test_refuses_a_capture_above_the_authorisation_or_of_an_expired_one(self, provider):
        assert isinstance(provider.capture(CaptureRequest("k-1", PAYMENT, 2746)), Refused)
        provider.authorize(AuthorizationRequest("p-2", 100, "EUR", provider.expired_token, "o-2"))
        assert provider.capture(CaptureRequest("k-2", "p-2", 100)) == Refused("the authorisation has expired")

    def test_refunds_in_parts_once_per_key_and_never_above_the_capture(self, provider):
        provider.capture(CaptureRequest("k-1", PAYMENT, 2745))
        first = provider.refund(RefundRequest("r-1", PAYMENT, 2000))
        assert isinstance(first, Refunded)
        assert provider.refund(RefundRequest("r-1", PAYMENT, 2000)) == first  # a retry: the same refund
        assert isinstance(provider.refund(RefundRequest("r-2", PAYMENT, 746)), Refused)
        assert isinstance(provider.refund(RefundRequest("r-3", PAYMENT, 745)), Refunded)
        assert provider.ledger[PAYMENT].refunded == 2745

    def test_refuses_a_refund_of_nothing_captured(self, provider):
        assert isinstance(provider.refund(RefundRequest("r-1", PAYMENT, 1)), Refused)


def queued(command_type: str, payload: dict, command_id: str) -> CommandMessage:
    return CommandMessage(
        command_type=command_type,
        command_id=command_id,
        payload=payload,
        correlation_id=None,
        causation_id=None,
    )


class TestTheService:
    @pytest.fixture
    def provider(self) -> FakePaymentProvider:
        return FakePaymentProvider()

    @pytest.fixture
    def service(self, provider) -> PaymentService:
        service = PaymentService(DeciderRunner(payment_decider, InMemoryEventStore()), provider)
        request = {"order_id": ORDER, "customer_id": "c-1", "amount": 2745, "currency": "EUR"}
        service.apply_queued(queued("RequestPayment", {**request, "payment_method": "pm_card_visa"}, "c-1"))
        return service

    def test_the_order_named_payment_method_is_the_one_authorised(self, service):
        assert service.runner.load(PAYMENT).state.card_token == "pm_card_visa"

    def test_captures_once_however_often_the_command_comes(self, service, provider):
        capture = queued("CapturePayment", {"order_id": ORDER, "amount": 2745}, "cap-1")
        assert service.apply_queued(capture) == "captured"
        assert service.apply_queued(capture) == "already captured"
        assert provider.ledger[PAYMENT].captures == 1

    def test_a_capture_retried_while_the_provider_is_down_is_taken_once(self, service, provider):
        capture = queued("CapturePayment", {"order_id": ORDER, "amount": 2745}, "cap-1")
        provider.fail_next(2)
        for _ in range(2):
            with pytest.raises(ProviderUnavailableError):
                service.apply_queued(capture)
        assert service.apply_queued(capture) == "captured"
        assert (provider.ledger[PAYMENT].captures, service.runner.load(PAYMENT).state.captured) == (1, 2745)

    def test_a_refund_retried_while_the_provider_is_down_is_made_once(self, service, provider):
        service.apply_queued(queued("CapturePayment", {"order_id": ORDER, "amount": 2745}, "cap-1"))
        refund = queued("RefundPayment", {"order_id": ORDER, "refund_id": "ret-1", "amount": 1000}, "ref-1")
        provider.fail_next(3)
        for _ in range(3):
            with pytest.raises(ProviderUnavailableError):
                service.apply_queued(refund)
        assert service.apply_queued(refund) == "refunded"
        assert service.apply_queued(refund) == "already refunded"
        assert provider.ledger[PAYMENT].refunds == {f"refund-1-{PAYMENT}": 1000}
        assert service.runner.load(PAYMENT).state.refunded == 1000

    def test_a_refund_above_the_capture_is_refused_before_the_provider_is_called(self, service, provider):
        service.apply_queued(queued("CapturePayment", {"order_id": ORDER, "amount": 2745}, "cap-1"))
        service.apply_queued(
            queued("RefundPayment", {"order_id": ORDER, "refund_id": "a", "amount": 2000}, "r-a")
        )
        with pytest.raises(RefundAboveCaptureError):
            service.apply_queued(
                queued("RefundPayment", {"order_id": ORDER, "refund_id": "b", "amount": 746}, "r-b")
            )
        assert provider.ledger[PAYMENT].refunded == 2000

    def test_a_capture_the_provider_refuses_is_recorded_as_failed(self, provider):
        service = PaymentService(DeciderRunner(payment_decider, InMemoryEventStore()), provider)
        request = {"order_id": ORDER, "customer_id": "c-1", "amount": 2745, "currency": "EUR"}
        service.apply_queued(
            queued("RequestPayment", {**request, "payment_method": provider.expired_token}, "c")
        )
        assert service.apply_queued(queued("CapturePayment", {"order_id": ORDER, "amount": 2745}, "k")) == (
            "capture_failed"
        )
        assert service.runner.load(PAYMENT).state.status is PaymentStatus.CAPTURE_FAILED
