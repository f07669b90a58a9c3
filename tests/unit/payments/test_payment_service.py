"""The payments service on the in-memory store and the fake provider: what happens for each order event,
and on every redelivery of it."""

from __future__ import annotations

import pytest

from microsystem import DeciderRunner, InMemoryEventStore
from microsystem.messages import PublishedEvent, UnexpectedEventError
from orders.events import OrderCancelled, OrderConfirmed, OrderCreated, OrderShipped
from payments import (
    FakePaymentProvider,
    PaymentService,
    PaymentStatus,
    ProviderUnavailableError,
    payment_decider,
)
from payments.inbound import ORDER_EVENTS
from payments.payment import payment_id_for

ORDER = "o-1"
PAYMENT = payment_id_for(ORDER)


def published(event_type: str, data: dict, *, event_id: str = "e-1", version: int = 1) -> PublishedEvent:
    return PublishedEvent(
        event_id=event_id,
        event_type=event_type,
        schema_version=version,
        subject=ORDER,
        data=data,
        correlation_id="corr-1",
        causation_id=None,
    )


CREATED = published(
    "OrderCreated",
    {
        "order_id": ORDER,
        "customer_id": "c-1",
        "total": 2745,
        "currency": "EUR",
        "placed_at": "2026-03-01T09:00:00Z",
    },
    version=2,
)
CANCELLED = published(
    "OrderCancelled",
    {"order_id": ORDER, "reason": "customer_request", "cancelled_at": "2026-03-01T10:00:00Z"},
    event_id="e-2",
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


class TestOrderPlaced:
    def test_requests_and_authorises_the_payment(self, service, store, provider):
        assert service.handle(CREATED) == "authorized"
        assert events(store) == ["PaymentRequested", "PaymentAuthorized"]
        commits = list(store.read(f"Payment-{PAYMENT}"))
        assert {(c.correlation_id, c.causation_id) for c in commits} == {("corr-1", "e-1")}

    def test_a_redelivery_writes_nothing_and_never_calls_the_provider(self, service, store, provider):
        service.handle(CREATED)
        service.handle(CREATED)
        assert events(store) == ["PaymentRequested", "PaymentAuthorized"]
        assert provider.ledger[PAYMENT].calls == 1

    def test_a_retry_after_a_provider_timeout_authorises_once(self, service, store, provider):
        provider.fail_next(1)
        with pytest.raises(ProviderUnavailableError):
            service.handle(CREATED)
        assert events(store) == ["PaymentRequested"]
        service.handle(CREATED)
        assert events(store) == ["PaymentRequested", "PaymentAuthorized"]
        assert provider.ledger[PAYMENT].authorizations == 1

    def test_the_version_1_shape_is_read_too(self, service, store):
        v1 = published("OrderCreated", {**CREATED.data, "country": "NL"}, version=1)
        assert service.handle(v1) == "authorized"

    def test_an_unknown_schema_version_is_refused_before_anything_happens(self, service, store, provider):
        with pytest.raises(UnexpectedEventError, match="schema version 3"):
            service.handle(published("OrderCreated", CREATED.data, version=3))
        assert events(store) == []
        assert provider.ledger == {}


class TestOrderCancelled:
    def test_voids_an_authorised_payment(self, service, store, provider):
        service.handle(CREATED)
        assert service.handle(CANCELLED) == "voided"
        assert events(store)[-1] == "PaymentVoided"
        assert provider.ledger[PAYMENT].status == "voided"

    def test_a_cancellation_before_the_order_arrived_stops_any_later_charge(self, service, store, provider):
        service.handle(CANCELLED)
        assert "already voided" in service.handle(CREATED)
        assert events(store) == ["PaymentVoided"]
        assert not provider.authorized(PAYMENT)

    def test_nothing_to_void_for_a_declined_payment(self, service, store, provider):
        dear = published("OrderCreated", {**CREATED.data, "total": 50_000}, version=2)
        assert service.handle(dear) == "declined"
        assert "nothing to void" in service.handle(CANCELLED)
        assert runner_state(service).status is PaymentStatus.DECLINED


def runner_state(service):
    return service.runner.load(PAYMENT).state


def test_other_order_events_are_ignored_and_unknown_ones_refused(service):
    assert service.handle(published("OrderShipped", {"order_id": ORDER})) == "ignored"
    assert service.handle(published("OrderConfirmed", {"order_id": ORDER})) == "ignored"
    with pytest.raises(UnexpectedEventError, match="OrderRefunded"):
        service.handle(published("OrderRefunded", {"order_id": ORDER}))


def test_every_order_event_type_is_either_acted_on_or_ignored_explicitly():
    # No filter on the event source mapping: every type published on order-events reaches payments.
    published_types = {e.event_type() for e in (OrderCreated, OrderConfirmed, OrderCancelled, OrderShipped)}
    assert published_types == set(ORDER_EVENTS.handled) | ORDER_EVENTS.ignored
    assert not set(ORDER_EVENTS.handled) & ORDER_EVENTS.ignored
