"""The orders service on the in-memory store: ids and command ids, retries, and which refusals of a queued
command are final."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventcore import DeciderRunner, InMemoryEventStore
from eventcore.messaging.inbound import CommandMessage
from orders import (
    OrderAlreadyCancelledError,
    OrderNotFoundError,
    PaymentMismatchError,
    RequestedLine,
    order_decider,
)
from orders.config import PricingConfigError, parse_pricing_config
from orders.service import (
    Checkout,
    OrderService,
    PricingUnavailableError,
    QueuedCommandApplied,
    QueuedCommandRefused,
    order_id_for,
)
from tests.support.aws import resource

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
CHECKOUT = Checkout(lines=(RequestedLine(sku="SKU-TEA-001", quantity=2),), destination_country="NL")


def template_pricing():
    import json

    def document(logical_id: str) -> dict:
        return json.loads(resource(logical_id)["Properties"]["Value"])

    return parse_pricing_config(
        document("CatalogParameter"), document("CampaignsParameter"), document("ShippingParameter"), "EUR"
    )


class Pricing:
    """The template's pricing, or a broken configuration once `broken` is set."""

    def __init__(self) -> None:
        self.config = template_pricing()
        self.broken = False

    def __call__(self):
        if self.broken:
            raise PricingConfigError("catalog", "not valid JSON", "/stack/catalog")
        return self.config


@pytest.fixture
def pricing() -> Pricing:
    return Pricing()


@pytest.fixture
def service(pricing) -> OrderService:
    return OrderService(DeciderRunner(order_decider, InMemoryEventStore()), pricing, clock=lambda: NOW)


def queued(command_type: str, payload: dict, command_id: str = "cmd-1") -> CommandMessage:
    return CommandMessage(command_type=command_type, command_id=command_id, payload=payload)


class TestOrderIds:
    def test_a_key_names_one_order_per_customer(self):
        assert order_id_for("alice", "k") == order_id_for("alice", "k")
        assert order_id_for("alice", "k") != order_id_for("bob", "k")

    def test_separators_in_the_parts_never_make_two_checkouts_one_order(self):
        # uuid5(f"{customer}:{key}") made these one order, so one customer's 409 told of another's order
        assert order_id_for("a", "x:k") != order_id_for("a:x", "k")
        assert order_id_for('a", "x', "k") != order_id_for("a", 'x", "k')


class TestPlaceOrder:
    def test_a_retry_with_the_same_key_answers_with_the_same_order(self, service):
        first = service.place("alice", CHECKOUT, idempotency_key="k-1")
        again = service.place("alice", CHECKOUT, idempotency_key="k-1")
        assert (again.order, again.version, again.replayed, again.recorded) == (first.order, 1, True, 0)

    def test_without_a_key_every_request_is_a_new_order(self, service):
        first = service.place("alice", CHECKOUT, idempotency_key=None)
        second = service.place("alice", CHECKOUT, idempotency_key=None)
        assert first.order.order_id != second.order.order_id

    def test_a_broken_pricing_configuration_is_unavailable_naming_the_parameter(self, service, pricing):
        pricing.broken = True
        with pytest.raises(PricingUnavailableError) as raised:
            service.place("alice", CHECKOUT, idempotency_key="k-1")
        assert raised.value.parameter == "/stack/catalog"

    def test_a_retry_of_a_placed_order_is_answered_from_the_log_while_pricing_is_broken(
        self, service, pricing
    ):
        placed = service.place("alice", CHECKOUT, idempotency_key="k-1")
        pricing.broken = True
        again = service.place("alice", CHECKOUT, idempotency_key="k-1")
        assert (again.order, again.replayed) == (placed.order, True)


class TestCancelOrder:
    def test_an_id_the_system_never_hands_out_is_not_found_before_any_read(self, service):
        with pytest.raises(OrderNotFoundError):
            service.cancel("x" * 3000, "alice", idempotency_key=None)

    def test_another_customers_key_never_replays_a_cancellation(self, service):
        order = service.place("a", CHECKOUT, idempotency_key="k").order
        service.cancel(order.order_id, "a", idempotency_key="x:k")
        # the same command id under the old `CancelOrder:{customer}:{key}` derivation
        with pytest.raises(OrderNotFoundError):
            service.cancel(order.order_id, "a:x", idempotency_key="k")


class TestQueuedCommands:
    def test_a_confirmation_is_applied_once_whatever_the_redeliveries(self, service):
        order = service.place("alice", CHECKOUT, idempotency_key="k").order
        message = queued(
            "ConfirmOrder", {"order_id": order.order_id, "payment_id": "p-1", "at": NOW.isoformat()}
        )
        first, again = service.apply_queued(message), service.apply_queued(message)
        assert isinstance(first, QueuedCommandApplied)
        assert isinstance(again, QueuedCommandApplied)
        assert (first.answer.recorded, again.answer.replayed) == (1, True)

    def test_confirming_an_order_the_customer_cancelled_is_refused_finally(self, service):
        order = service.place("alice", CHECKOUT, idempotency_key="k").order
        service.cancel(order.order_id, "alice", idempotency_key=None)
        message = queued(
            "ConfirmOrder", {"order_id": order.order_id, "payment_id": "p-1", "at": NOW.isoformat()}
        )
        outcome = service.apply_queued(message)
        assert isinstance(outcome, QueuedCommandRefused)
        assert isinstance(outcome.rejection, OrderAlreadyCancelledError)

    def test_a_second_payment_confirming_a_paid_order_needs_a_person(self, service):
        order = service.place("alice", CHECKOUT, idempotency_key="k").order
        for command_id, payment_id in (("c-1", "p-1"), ("c-2", "p-2")):
            payload = {"order_id": order.order_id, "payment_id": payment_id, "at": NOW.isoformat()}
            message = queued("ConfirmOrder", payload, command_id)
            if payment_id == "p-1":
                service.apply_queued(message)
                continue
            with pytest.raises(PaymentMismatchError):
                service.apply_queued(message)
