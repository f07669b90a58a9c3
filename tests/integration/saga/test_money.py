"""The money through the real handlers, on moto: an order names its payment method, is captured once when
its parcel leaves, delivered, partly returned, received, restocked and refunded by the documented rule; a
return never received expires; a refund retried while the provider is down is made once."""

from __future__ import annotations

import pytest

from orders.service import ReturnPolicy
from payments import payment_id_for
from tests.integration.saga.conftest import BASKET, Saga
from tests.support.polling import wait_until

TWO_TEAS = {**BASKET, "payment_method": "pm_card_visa"}  # 2 x 12.50 EUR + 4.95 EUR shipping


def delivered_order(saga: Saga) -> str:
    order_id, _ = saga.place_order(TWO_TEAS)
    saga.run()
    assert saga.dispatch(order_id)[0] == 200
    saga.run()
    assert saga.deliver(order_id)[0] == 200
    saga.run()
    return order_id


def order_types(saga: Saga, order_id: str) -> list[str]:
    return [t for t, _ in saga.order_events(order_id)]


class TestAnOrderReturnedInPart:
    def test_is_captured_once_restocked_and_refunded_by_the_rule(self, saga, provider):
        order_id = delivered_order(saga)
        payment = payment_id_for(order_id)
        # captured once, when the parcel left: the whole order, as authorised
        assert saga.payment_events(order_id) == ["PaymentRequested", "PaymentAuthorized", "PaymentCaptured"]
        entry = provider.ledger[payment]
        assert (entry.captures, entry.captured) == (1, 2995)
        assert saga.payment_commits(order_id)[0].events[0].payload()["card_token"] == "pm_card_visa"
        # the capture is told to the order once payments took it: before or after the delivery
        assert sorted(order_types(saga, order_id)) == sorted(
            ["OrderCreated", "OrderConfirmed", "OrderShipped", "OrderPaymentCaptured", "OrderDelivered"]
        )
        on_hand = saga.stock("SKU-TEA-001").on_hand

        # WHEN the customer returns one of the two teas, and the warehouse finds it fit to sell
        status, returned = saga.request_return(order_id, [{"sku": "SKU-TEA-001", "quantity": 1}], key="r-1")
        assert (status, returned["status"]) == (201, "requested")
        saga.run()
        status, received = saga.receive_return(
            order_id, returned["return_id"], [{"sku": "SKU-TEA-001", "quantity": 1, "condition": "sellable"}]
        )
        assert (status, received["status"], received["refund"]) == (200, "received", 1250)
        saga.run()

        # THEN it is back in stock, refunded once (its price: no discount, shipping kept), the order says so
        assert saga.stock("SKU-TEA-001").on_hand == on_hand + 1
        assert (entry.refunded, len(entry.refunds), entry.captures) == (1250, 1, 1)
        assert saga.payment_events(order_id)[-2:] == ["PaymentRefundRequested", "PaymentRefunded"]
        order = saga.order(order_id)
        assert (order.authorised, order.captured, order.refunded) == (2995, 2995, 1250)
        assert [(r.status.value, r.refund) for r in order.returns] == [("refunded", 1250)]
        assert order_types(saga, order_id)[-3:] == ["ReturnRequested", "ReturnReceived", "ReturnRefunded"]
        assert saga.process_events(order_id)[-3:] == [
            "ReturnOpened",
            "ReturnSettling",
            "ReturnRefundRecorded",
        ]
        assert [saga.parked(queue) for queue in ("orders", "payments", "inventory")] == [[], [], []]

        # AND the rest, returned damaged, refunds the rest of the capture (shipping too) and restocks nothing
        _, second = saga.request_return(order_id, [{"sku": "SKU-TEA-001", "quantity": 1}], key="r-2")
        saga.receive_return(
            order_id, second["return_id"], [{"sku": "SKU-TEA-001", "quantity": 1, "condition": "damaged"}]
        )
        saga.run()
        assert (entry.refunded, saga.order(order_id).refunded) == (2995, 2995)
        assert saga.stock("SKU-TEA-001").on_hand == on_hand + 1

    def test_a_retried_request_is_the_same_return_and_nothing_is_returned_twice(self, saga):
        order_id = delivered_order(saga)
        lines = [{"sku": "SKU-TEA-001", "quantity": 2}]
        first = saga.request_return(order_id, lines, key="k")
        assert saga.request_return(order_id, lines, key="k") == first
        status, body = saga.request_return(order_id, [{"sku": "SKU-TEA-001", "quantity": 1}], key="other")
        assert (status, body["errors"][0]["field"]) == (409, "lines[0].quantity")

    def test_another_customers_order_is_not_found(self, saga):
        order_id = delivered_order(saga)
        status, _ = saga.request_return(order_id, [{"sku": "SKU-TEA-001", "quantity": 1}], customer="mallory")
        assert status == 404


class TestARefundWhileTheProviderIsDown:
    def test_is_retried_and_made_once(self, saga, provider):
        order_id = delivered_order(saga)
        _, returned = saga.request_return(order_id, [{"sku": "SKU-TEA-001", "quantity": 2}])
        saga.run()
        saga.receive_return(
            order_id, returned["return_id"], [{"sku": "SKU-TEA-001", "quantity": 2, "condition": "sellable"}]
        )
        provider.fail_next(2)  # the refund's first two calls: the provider is unavailable
        saga.run()
        entry = provider.ledger[payment_id_for(order_id)]
        assert (entry.refunded, len(entry.refunds)) == (2995, 1)  # the whole order: shipping included
        assert saga.payment_events(order_id).count("PaymentRefunded") == 1
        assert saga.order(order_id).refunded == 2995
        assert saga.parked("payments") == []


class TestAReturnNeverReceived:
    @pytest.fixture
    def saga(self, saga: Saga) -> Saga:
        saga.api.service.returns = ReturnPolicy(receipt_seconds=2)  # the parcel awaited for two seconds
        return saga

    def test_expires_and_says_so(self, saga, provider):
        order_id = delivered_order(saga)
        _, returned = saga.request_return(order_id, [{"sku": "SKU-TEA-001", "quantity": 1}])

        def expired() -> bool:
            saga.step()  # the delayed deadline message becomes visible when its time has come
            return order_types(saga, order_id)[-1] == "ReturnExpired"

        wait_until(expired, timeout=60)
        saga.run()
        assert saga.order(order_id).returns[0].status.value == "expired"
        assert saga.process_events(order_id)[-1] == "ReturnDeadlinePassed"
        assert provider.ledger[payment_id_for(order_id)].refunded == 0
        # the parcel turning up after all is refused: a person takes it from there
        status, body = saga.receive_return(
            order_id, returned["return_id"], [{"sku": "SKU-TEA-001", "quantity": 1, "condition": "sellable"}]
        )
        assert (status, "expired" in body["message"]) == (409, True)
