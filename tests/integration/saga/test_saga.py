"""The order fulfillment saga through its real handlers, on moto: the orders API places an order, the
publisher puts it on `order-events`, payments authorises or declines, the process manager queues the order
command, and the order command handler applies it."""

from __future__ import annotations

import io
import json
import logging

from payments import payment_id_for
from tests.integration.saga.conftest import BASKET, DEAR_BASKET, new_customer


class TestAnOrderUnderTheLimit:
    def test_ends_confirmed_with_one_authorisation(self, saga, provider):
        # GIVEN an order the card can pay
        order_id, _ = saga.place_order(BASKET)
        # WHEN the saga runs
        saga.run()
        # THEN the order is confirmed by its payment, authorised exactly once
        events = saga.order_events(order_id)
        assert [t for t, _ in events] == ["OrderCreated", "OrderConfirmed"]
        assert events[1][1]["payment_id"] == payment_id_for(order_id)
        assert saga.payment_events(order_id) == ["PaymentRequested", "PaymentAuthorized"]
        entry = provider.ledger[payment_id_for(order_id)]
        assert (entry.status, entry.authorizations, entry.amount) == ("authorized", 1, events[0][1]["total"])

    def test_running_everything_again_changes_nothing(self, saga, provider):
        order_id, _ = saga.place_order(BASKET)
        saga.run()
        before = (saga.order_commits(order_id), saga.payment_commits(order_id))
        # WHEN every consumer gets its whole stream again from the start (a replay)
        for feed in (saga.payments, saga.fulfillment):
            feed._checkpoints.clear()
        saga.run()
        # THEN nothing new is written and the card is not charged again
        assert (saga.order_commits(order_id), saga.payment_commits(order_id)) == before
        assert provider.ledger[payment_id_for(order_id)].authorizations == 1


class TestAnOrderAboveTheLimit:
    def test_ends_cancelled_as_payment_declined_with_no_charge(self, saga, provider):
        order_id, _ = saga.place_order(DEAR_BASKET)
        saga.run()
        events = saga.order_events(order_id)
        assert [t for t, _ in events] == ["OrderCreated", "OrderCancelled"]
        assert events[1][1]["reason"] == "payment_declined"
        assert saga.payment_events(order_id) == ["PaymentRequested", "PaymentDeclined"]
        entry = provider.ledger[payment_id_for(order_id)]
        assert (entry.status, entry.authorizations) == ("declined", 0)

    def test_a_declined_test_card_is_cancelled_too(self, saga, provider):
        order_id, _ = saga.place_order(BASKET, customer=provider.declined_card)
        saga.run()
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderCancelled"]
        assert provider.ledger[payment_id_for(order_id)].authorizations == 0


class TestACustomerCancellation:
    def test_after_authorisation_voids_the_payment(self, saga, provider):
        # GIVEN a confirmed, paid order
        customer = new_customer()
        order_id, _ = saga.place_order(BASKET, customer=customer)
        saga.run()
        assert provider.authorized(payment_id_for(order_id))
        # WHEN the customer cancels it
        assert saga.cancel_order(order_id, customer=customer) == 200
        saga.run()
        # THEN the order is cancelled and the authorisation released: the compensation
        assert [t for t, _ in saga.order_events(order_id)] == [
            "OrderCreated",
            "OrderConfirmed",
            "OrderCancelled",
        ]
        assert saga.payment_events(order_id) == ["PaymentRequested", "PaymentAuthorized", "PaymentVoided"]
        entry = provider.ledger[payment_id_for(order_id)]
        assert (entry.status, entry.authorizations) == ("voided", 1)

    def test_before_the_confirmation_arrives_the_confirmation_is_refused_and_the_payment_voided(
        self, saga, provider
    ):
        customer = new_customer()
        order_id, _ = saga.place_order(BASKET, customer=customer)
        # GIVEN payments has authorised, but the order command has not been applied yet
        saga.publish_orders.pump()
        saga.payments.drain()
        saga.publish_payments.pump()
        saga.fulfillment.drain()
        # WHEN the customer cancels first
        assert saga.cancel_order(order_id, customer=customer) == 200
        saga.run()
        # THEN ConfirmOrder is a final "no" (not retried, not parked) and the payment is voided
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderCancelled"]
        assert saga.payment_events(order_id)[-1] == "PaymentVoided"
        assert not provider.authorized(payment_id_for(order_id))
        assert saga.parked_commands() == []


class TestTransientProviderFailures:
    def test_are_retried_until_the_payment_is_authorised_once(self, saga, provider):
        order_id, _ = saga.place_order(BASKET, customer=provider.flaky_card)
        saga.run()
        assert [t for t, _ in saga.order_events(order_id)] == ["OrderCreated", "OrderConfirmed"]
        entry = provider.ledger[payment_id_for(order_id)]
        assert (entry.authorizations, entry.calls) == (1, 1)
        assert saga.payments.parked == []


class TestCorrelation:
    def test_the_request_id_follows_the_order_through_every_event_message_and_log_line(self, saga):
        order_id, correlation_id = saga.place_order(BASKET)
        output = io.StringIO()
        for handler in logging.getLogger(
            "tests"
        ).handlers:  # the functions' Powertools loggers (service "tests")
            handler.setStream(output)
        saga.run()
        logged = [json.loads(line) for line in output.getvalue().splitlines() if line.startswith("{")]
        # every commit of both logs
        commits = saga.order_commits(order_id) + saga.payment_commits(order_id)
        assert {c.correlation_id for c in commits} == {correlation_id}
        # every log line of the three consumers about this order
        about_order = [line for line in logged if line.get("order_id") == order_id]
        messages = {line["message"] for line in about_order}
        assert {"order event handled", "order command sent", "order command applied"} <= messages
        assert {line.get("correlation_id") for line in about_order} == {correlation_id}
        # and causation links each commit to the event that caused it
        confirmed = saga.order_commits(order_id)[-1]
        authorized = saga.payment_commits(order_id)[-1]
        assert confirmed.causation_id == authorized.events[0].event_id
