"""The payments service on the in-memory store and the fake provider: what happens for each queued command,
and on every redelivery of it."""

from __future__ import annotations

import pytest

from eventcore import DeciderRunner, InMemoryEventStore
from eventcore.messaging.inbound import CommandMessage, MalformedMessageError
from payments import (
    FakePaymentProvider,
    PaymentService,
    PaymentStatus,
    ProviderUnavailableError,
    payment_decider,
)
from payments.payment import payment_id_for

ORDER = "o-1"
PAYMENT = payment_id_for(ORDER)


def queued(command_type: str, payload: dict, *, command_id: str = "c-1") -> CommandMessage:
    return CommandMessage(
        command_type=command_type,
        command_id=command_id,
        payload=payload,
        correlation_id="corr-1",
        causation_id="e-1",
    )


REQUEST = queued(
    "RequestPayment", {"order_id": ORDER, "customer_id": "c-1", "amount": 2745, "currency": "EUR"}
)
VOID = queued(
    "VoidPayment", {"order_id": ORDER, "reason": "order cancelled: customer_request"}, command_id="c-2"
)


@pytest.fixture
def store():
    return InMemoryEventStore()


@pytest.fixture
def provider():
    return FakePaymentProvider(decline_above=10_000)


@pytest.fixture
def service(store, provider):
    return PaymentService(DeciderRunner(payment_decider, store), provider)


def events(store) -> list[str]:
    return [e.event_type for c in store.read(f"Payment-{PAYMENT}") for e in c.events]


class TestRequestPayment:
    def test_requests_and_authorises_the_payment(self, service, store):
        assert service.apply_queued(REQUEST) == "authorized"
        assert events(store) == ["PaymentRequested", "PaymentAuthorized"]
        commits = list(store.read(f"Payment-{PAYMENT}"))
        assert {(c.correlation_id, c.causation_id) for c in commits} == {("corr-1", "e-1")}  # its cause

    def test_a_redelivery_writes_nothing_and_never_calls_the_provider_again(self, service, store, provider):
        service.apply_queued(REQUEST)
        service.apply_queued(REQUEST)
        assert events(store) == ["PaymentRequested", "PaymentAuthorized"]
        assert provider.ledger[PAYMENT].calls == 1

    def test_a_retry_after_a_provider_timeout_authorises_once(self, service, store, provider):
        provider.fail_next(1)
        with pytest.raises(ProviderUnavailableError):
            service.apply_queued(REQUEST)
        assert events(store) == ["PaymentRequested"]
        service.apply_queued(REQUEST)
        assert events(store) == ["PaymentRequested", "PaymentAuthorized"]
        assert provider.ledger[PAYMENT].authorizations == 1

    def test_a_provider_that_never_answers_leaves_the_payment_requested(self, service, store):
        unresponsive = queued(
            "RequestPayment",
            {
                "order_id": ORDER,
                "customer_id": "customer-card-unresponsive",
                "amount": 2745,
                "currency": "EUR",
            },
        )
        for _ in range(3):
            with pytest.raises(ProviderUnavailableError):
                service.apply_queued(unresponsive)
        assert events(store) == ["PaymentRequested"]

    def test_an_unreadable_command_is_refused_before_anything_happens(self, service, store, provider):
        with pytest.raises(MalformedMessageError, match="amount"):
            service.apply_queued(queued("RequestPayment", {**REQUEST.payload, "amount": -1}))
        with pytest.raises(MalformedMessageError, match="RefundPayment"):
            service.apply_queued(queued("RefundPayment", {"order_id": ORDER}))
        assert events(store) == []
        assert provider.ledger == {}


class TestVoidPayment:
    def test_voids_an_authorised_payment(self, service, store, provider):
        service.apply_queued(REQUEST)
        assert service.apply_queued(VOID) == "voided"
        assert events(store)[-1] == "PaymentVoided"
        assert provider.ledger[PAYMENT].status == "voided"

    def test_a_void_before_the_request_stops_any_later_charge(self, service, store, provider):
        service.apply_queued(VOID)
        assert "already voided" in service.apply_queued(REQUEST)
        assert events(store) == ["PaymentVoided"]
        assert not provider.authorized(PAYMENT)

    def test_nothing_to_void_for_a_declined_payment(self, service, store):
        dear = queued("RequestPayment", {**REQUEST.payload, "amount": 50_000})
        assert service.apply_queued(dear) == "declined"
        assert "nothing to void" in service.apply_queued(VOID)
        assert service.runner.load(PAYMENT).state.status is PaymentStatus.DECLINED
