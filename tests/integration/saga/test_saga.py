"""The order-fulfillment saga through its real handlers, on moto: the orders API places an order, the
publisher puts it on `order-events`, the process manager asks inventory and payments, hears their answers on
their streams, and the order command handler applies its decision; compensations undo what succeeded."""

from __future__ import annotations

import io
import json
import logging
from unittest.mock import ANY

import pytest

from eventcore.personal_data import PersonalDataVault
from ops.openapi import DOCUMENT
from orders.personal_details import for_owner
from payments import payment_id_for
from shipping import shipment_id_for
from tests.integration.saga.conftest import BASKET, DEAR_BASKET, KETTLE, Saga, new_customer
from tests.support.polling import wait_until


def terminal(saga: Saga, order_id: str) -> list[str]:
    return [t for t, _ in saga.order_events(order_id)]


class TestAnOrderThatCanBeFulfilled:
    def test_ends_confirmed_with_its_stock_held_and_one_authorisation(self, saga, provider):
        order_id, _ = saga.place_order(BASKET)
        saga.run()
        events = saga.order_events(order_id)
        assert [t for t, _ in events] == ["OrderCreated", "OrderConfirmed"]
        assert events[1][1]["payment_id"] == payment_id_for(order_id)
        assert saga.payment_events(order_id) == ["PaymentRequested", "PaymentAuthorized"]
        assert saga.stock("SKU-TEA-001").reservations == {order_id: 2}
        entry = provider.ledger[payment_id_for(order_id)]
        assert (entry.status, entry.authorizations, entry.amount) == ("authorized", 1, events[0][1]["total"])
        process = saga.process_events(order_id)
        assert (process[0], sorted(process[1:3]), process[3:]) == (
            "FulfillmentStarted",
            ["PaymentAnswered", "StockAnswered"],  # in whichever order they arrived
            ["FulfillmentCompleted", "AuthorisationWatched"],  # looked at again before the hold expires
        )

    def test_running_everything_again_changes_nothing(self, saga, provider):
        order_id, _ = saga.place_order(BASKET)
        saga.run()
        before = (
            saga.order_commits(order_id),
            saga.payment_commits(order_id),
            saga.stock_events("SKU-TEA-001"),
        )
        # WHEN the process manager hears every stream again from the start (a replay)
        for feed in saga.fulfillment_feeds:
            feed.replay_from_start()
        saga.run()
        # THEN nothing new is written, no stock held twice, and the card is not charged again
        assert (
            saga.order_commits(order_id),
            saga.payment_commits(order_id),
            saga.stock_events("SKU-TEA-001"),
        ) == before
        assert provider.ledger[payment_id_for(order_id)].authorizations == 1


class TestOutOfStock:
    def test_eleven_kettles_for_ten_in_stock_cancel_the_eleventh_and_void_its_payment(self, saga, provider):
        orders = [saga.place_order(KETTLE, customer=new_customer())[0] for _ in range(11)]
        saga.run()
        outcomes = [terminal(saga, order_id)[-1] for order_id in orders]
        assert outcomes.count("OrderConfirmed") == 10
        (refused,) = [o for o, outcome in zip(orders, outcomes, strict=True) if outcome == "OrderCancelled"]
        assert saga.order_events(refused)[-1][1]["reason"] == "out_of_stock"
        assert saga.payment_events(refused)[-1] == "PaymentVoided"
        assert not provider.authorized(payment_id_for(refused))
        stock = saga.stock("SKU-KET-001")
        assert (stock.on_hand, stock.available, len(stock.reservations)) == (10, 0, 10)
        assert refused not in stock.reservations


class TestADeclinedPayment:
    def test_ends_cancelled_with_no_charge_and_its_stock_released(self, saga, provider):
        order_id, _ = saga.place_order(DEAR_BASKET)
        saga.run()
        events = saga.order_events(order_id)
        assert [t for t, _ in events] == ["OrderCreated", "OrderCancelled"]
        assert events[1][1]["reason"] == "payment_declined"
        entry = provider.ledger[payment_id_for(order_id)]
        assert (entry.status, entry.authorizations) == ("declined", 0)
        assert saga.stock("SKU-POT-001").reservations == {}
        assert [t for t, _ in saga.stock_events("SKU-POT-001")][-1] == "StockReleased"


class TestACustomerCancellation:
    def test_after_confirmation_releases_the_stock_and_voids_the_payment(self, saga, provider):
        customer = new_customer()
        order_id, _ = saga.place_order(BASKET, customer=customer)
        saga.run()
        assert provider.authorized(payment_id_for(order_id))
        assert saga.cancel_order(order_id, customer=customer) == 200
        saga.run()
        assert terminal(saga, order_id) == ["OrderCreated", "OrderConfirmed", "OrderCancelled"]
        assert saga.payment_events(order_id)[-1] == "PaymentVoided"
        assert (provider.ledger[payment_id_for(order_id)].status, saga.stock("SKU-TEA-001").reservations) == (
            "voided",
            {},
        )

    def test_before_the_answers_the_late_confirmation_is_refused_and_everything_compensated(
        self, saga, provider
    ):
        customer = new_customer()
        order_id, _ = saga.place_order(BASKET, customer=customer)
        # GIVEN the process manager has asked, but nothing has answered yet
        for publisher in saga.publishers:
            publisher.pump()
        for feed in saga.fulfillment_feeds:
            feed.drain()
        # WHEN the customer cancels first
        assert saga.cancel_order(order_id, customer=customer) == 200
        saga.run()
        # THEN the order stays cancelled by the customer, nothing is held, nothing authorised, nothing parked
        assert terminal(saga, order_id) == ["OrderCreated", "OrderCancelled"]
        assert saga.order_events(order_id)[-1][1]["reason"] == "customer_request"
        assert saga.stock("SKU-TEA-001").reservations == {}
        assert not provider.authorized(payment_id_for(order_id))
        assert [saga.parked(queue) for queue in ("orders", "payments", "inventory")] == [[], [], []]


class TestDeadlines:
    @pytest.fixture
    def saga(self, dynamodb, pricing_parameters, personal_data_keys, monkeypatch, provider) -> Saga:
        # A deadline short enough to wait for, long enough for the stock to answer on a loaded machine: the
        # reservation must land in the first round, before the deadline passes (stock refuses a reservation
        # that would expire at once). That round took 3.3 s at load 8 on 2 cores; 6 s was once too short.
        return Saga(monkeypatch, dynamodb, provider, pricing_parameters, deadline_seconds=12)

    def test_a_provider_that_never_answers_cancels_the_order_and_releases_its_stock(self, saga, provider):
        order_id, _ = saga.place_order(BASKET, customer=provider.unresponsive_card)
        saga.step()
        assert saga.stock("SKU-TEA-001").reservations == {order_id: 2}
        saga.run()  # the request fails until it is parked; the order waits for its deadline

        def settled() -> bool:
            saga.step()  # the delayed deadline message becomes visible when its time has come
            return terminal(saga, order_id)[-1] == "OrderCancelled"

        wait_until(settled, timeout=90)
        saga.run()
        assert saga.order_events(order_id)[-1][1]["reason"] == "payment_timeout"
        assert saga.stock("SKU-TEA-001").reservations == {}
        assert not provider.authorized(payment_id_for(order_id))
        # parked for a person: the unanswered request (and the void queued behind it in the order's group)
        parked = {json.loads(m["Body"])["payload"]["order_id"] for m in saga.parked("payments")}
        assert parked == {order_id}


class TestTransientProviderFailures:
    def test_are_retried_until_the_payment_is_authorised_once(self, saga, provider):
        order_id, _ = saga.place_order(BASKET, customer=provider.flaky_card)
        saga.run()
        assert terminal(saga, order_id) == ["OrderCreated", "OrderConfirmed"]
        entry = provider.ledger[payment_id_for(order_id)]
        assert (entry.authorizations, entry.calls) == (1, 1)
        assert saga.parked("payments") == []


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
        # every commit of every log about this order
        commits = (
            saga.order_commits(order_id)
            + saga.payment_commits(order_id)
            + [c for c in saga.inventory_store.read("Stock-SKU-TEA-001") if c.correlation_id]
            + list(saga.orders_store.read(f"Fulfillment-{order_id}"))
        )
        assert {c.correlation_id for c in commits} == {correlation_id}
        about_order = [line for line in logged if line.get("order_id") == order_id]
        messages = {line["message"] for line in about_order}
        assert {
            "fulfillment decided",
            "payment command applied",
            "stock command applied",
            "order command applied",
        } <= messages
        assert {line.get("correlation_id") for line in about_order} == {correlation_id}
        # and causation links the confirmation to the answer that completed the process
        confirmed = saga.order_commits(order_id)[-1]
        assert confirmed.causation_id is not None


class TestShipping:
    def test_a_confirmed_order_is_ready_dispatched_with_its_tracking_and_delivered(self, saga):
        order_id, _ = saga.place_order(BASKET)
        saga.run()
        # the warehouse's queue holds it, with what goes in the parcel and nothing else of the order
        saga.shipment_projector_pump()
        status, listed = saga.staff("GET", "/shipments", key=None)
        assert status == 200
        (queued,) = [s for s in listed["shipments"] if s["order_id"] == order_id]
        assert queued["status"] == "ready_to_ship"
        assert queued["lines"] == [{"sku": "SKU-TEA-001", "name": "Green tea, 100 g", "quantity": 2}]
        assert not {"customer_id", "total", "payment_id"} & set(queued)
        # dispatched: the stock it held leaves the warehouse, the order shows its tracking
        status, dispatched = saga.dispatch(order_id, tracking_number="TR-42", key="scan-1")
        assert (status, dispatched["status"]) == (200, "dispatched")
        saga.run()
        shipped, captured = saga.order_events(order_id)[-2:]
        assert shipped == ("OrderShipped", {**shipped[1], "carrier": "PostNL", "tracking_number": "TR-42"})
        assert captured == ("OrderPaymentCaptured", {**captured[1], "amount": 2995})
        assert saga.stock("SKU-TEA-001").reservations == {}
        assert saga.stock("SKU-TEA-001").on_hand == 98
        # delivered
        assert saga.deliver(order_id)[0] == 200
        saga.run()
        assert [t for t, _ in saga.order_events(order_id)][-1] == "OrderDelivered"

    def test_dispatching_again_with_the_same_key_is_a_replay_and_with_another_tracking_number_a_409(
        self, saga
    ):
        order_id, _ = saga.place_order(BASKET)
        saga.run()
        assert saga.dispatch(order_id, tracking_number="TR-1", key="scan-1")[0] == 200
        assert saga.dispatch(order_id, tracking_number="TR-1", key="scan-1")[0] == 200
        status, body = saga.dispatch(order_id, tracking_number="TR-2")
        assert status == 409
        assert "TR-1" in body["message"]

    def test_every_header_a_staff_answer_sends_is_in_the_openapi_document(self, saga):
        document = json.loads(DOCUMENT.read_text())
        order_id, _ = saga.place_order(BASKET)
        saga.run()
        saga.shipment_projector_pump()
        shipment = f"/shipments/{shipment_id_for(order_id)}"
        tracking = {"carrier": "PostNL", "tracking_number": "TR-7"}
        answers = {
            ("/shipments", "get"): saga.staff("GET", "/shipments"),
            ("/shipments/{shipment_id}", "get"): saga.staff("GET", shipment),
            ("/shipments/{shipment_id}/dispatch", "post"): saga.staff(
                "POST", f"{shipment}/dispatch", tracking
            ),
            ("/shipments/{shipment_id}/deliver", "post"): saga.staff("POST", f"{shipment}/deliver"),
        }
        for (path, method), answer in answers.items():
            status = answer[0]
            declared = document["paths"][path][method]["responses"][str(status)].get("headers", {})
            # Every JSON answer's Content-Type and Cache-Control go without saying; Idempotent-Replayed is
            # described with the Idempotency-Key parameter (and not sent here: no retry).
            sent = {name.lower() for name in answer.headers} - {"content-type", "cache-control"}
            assert sent <= {name.lower() for name in declared}, (method, path, status, sent)
        assert "etag" in {
            name.lower() for name in answers[("/shipments/{shipment_id}/dispatch", "post")].headers
        }

    def test_a_cancellation_before_dispatch_cancels_the_shipment_and_releases_the_stock(self, saga):
        customer = new_customer()
        order_id, _ = saga.place_order(BASKET, customer=customer)
        saga.run()
        assert saga.cancel_order(order_id, customer=customer) == 200
        saga.run()
        assert saga.shipment(order_id).status.value == "cancelled"
        assert saga.stock("SKU-TEA-001").reservations == {}
        status, _ = saga.dispatch(order_id)
        assert status == 409

    def test_a_cancellation_after_dispatch_is_refused(self, saga):
        customer = new_customer()
        order_id, _ = saga.place_order(BASKET, customer=customer)
        saga.run()
        saga.dispatch(order_id)
        saga.run()
        assert saga.cancel_order(order_id, customer=customer) == 409
        saga.run()
        assert [t for t, _ in saga.order_events(order_id)][-2:] == ["OrderShipped", "OrderPaymentCaptured"]


def address_of(saga: Saga, order_id: str) -> str:
    """How the order's personal data reads to its owner in a container that has not seen the customer yet
    (a warm one trusts the key it read for up to KEY_CACHE_SECONDS): available, or erased."""
    (created,) = [data for kind, data in saga.order_events(order_id) if kind == "OrderCreated"]
    return for_owner(PersonalDataVault.from_environment(saga.dynamodb), created)["personal_data"]


class TestErasure:
    def test_an_order_in_flight_when_its_customer_is_erased_is_cancelled_and_everything_undone(self, saga):
        customer = new_customer()
        order_id, _ = saga.place_order(BASKET, customer=customer)
        saga.step()  # published; the process asked for the stock and the payment
        assert saga.erase(customer) == (
            200,
            {"customer_id": customer, "personal_data": "erased", "erased_at": ANY},
        )
        saga.run()
        # confirmed, its parcel held when shipping found no address to send it to, then cancelled and undone
        assert terminal(saga, order_id) == ["OrderCreated", "OrderConfirmed", "OrderCancelled"]
        assert saga.order_events(order_id)[-1][1]["reason"] == "address_erased"
        assert saga.shipment(order_id).status.value == "undeliverable"
        assert saga.stock("SKU-TEA-001").reservations == {}
        assert saga.payment_events(order_id)[-1] == "PaymentVoided"
        # every fact is still there: the lines and the total, only the address reads as erased
        created = saga.order_events(order_id)[0][1]
        assert (created["lines"][0]["sku"], created["total"]) == ("SKU-TEA-001", 2995)
        assert address_of(saga, order_id) == "erased"

    def test_an_address_erased_at_the_packing_table_refuses_the_dispatch_and_cancels_the_order(self, saga):
        customer = new_customer()
        order_id, _ = saga.place_order(BASKET, customer=customer)
        saga.run()
        assert saga.shipment(order_id).status.value == "ready_to_ship"
        saga.erase(customer)
        status, body = saga.dispatch(order_id)
        assert status == 409
        assert "personal data was erased" in body["message"]
        saga.run()
        assert terminal(saga, order_id)[-1] == "OrderCancelled"
        assert saga.order_events(order_id)[-1][1]["reason"] == "address_erased"
        assert saga.payment_events(order_id)[-1] == "PaymentVoided"
        assert saga.dispatch(order_id)[0] == 409  # and it stays held

    def test_erasing_twice_is_harmless_and_a_new_order_gets_a_new_key_and_ships(self, saga):
        customer = new_customer()
        before, _ = saga.place_order(BASKET, customer=customer)
        saga.run()
        first, second = saga.erase(customer), saga.erase(customer)
        assert first[0] == second[0] == 200
        assert first[1]["erased_at"] == second[1]["erased_at"]  # the one erasure on record
        erasures = [e for c in saga.orders_store.read(f"Customer-{customer}") for e in c.events]
        assert [e.event_type for e in erasures] == ["PersonalDataErased"]
        assert BASKET["shipping_address"]["line1"] not in json.dumps(erasures[0].payload())

        after, _ = saga.place_order(BASKET, customer=customer)
        saga.run()
        assert (address_of(saga, before), address_of(saga, after)) == ("erased", "available")
        sealed = [saga.order_events(o)[0][1]["personal"]["key_id"] for o in (before, after)]
        assert sealed[0] != sealed[1]
        assert saga.dispatch(after)[0] == 200
        saga.run()
        assert terminal(saga, after)[-2:] == ["OrderShipped", "OrderPaymentCaptured"]
