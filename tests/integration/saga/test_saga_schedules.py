"""Randomised schedules of the order-fulfillment saga over its services (Hypothesis): duplicate and reordered
deliveries across the answers, redeliveries after a crash between steps, cold starts, provider outages,
customers cancelling at any moment, the deadline passing before, between or after the answers, and staff
dispatching and delivering as they go. Whatever the schedule, once everything has been delivered: every
order is in exactly one terminal state (delivered, or cancelled); a cancelled order holds no stock, no
authorised payment and no parcel on its way; stock is never negative; nothing is applied twice."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcore.messaging.command_sender import OutgoingCommand
from eventcore.messaging.inbound import CommandMessage
from payments import FakePaymentProvider, payment_id_for
from tests.integration.saga.conftest import ADDRESS, BASKET, FUNCTIONS, PATIENT, Saga, new_customer

DECLINE_ABOVE = 40_000  # 400.00 EUR
BASKETS = {
    "under": BASKET,  # 29.95 EUR of tea
    "over": {"lines": [{"sku": "SKU-POT-001", "quantity": 8}], "shipping_address": ADDRESS},  # 432.00 EUR
    "kettles": {"lines": [{"sku": "SKU-KET-001", "quantity": 4}], "shipping_address": ADDRESS},  # 4 of 10
    "mixed": {
        "lines": [{"sku": "SKU-TEA-001", "quantity": 1}, {"sku": "SKU-KET-001", "quantity": 3}],
        "shipping_address": ADDRESS,
    },
}
SKUS = ("SKU-TEA-001", "SKU-POT-001", "SKU-KET-001")


class SimulatedCrash(Exception):
    """The container died right after a step succeeded, before anything after it ran."""


class CrashingProvider:
    """Wraps the provider: with `crash_after_authorize`, the authorisation happens and then the function
    dies before recording it (the provider's idempotency key is what saves the day)."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.crash_after_authorize = 0

    def authorize(self, request: Any) -> Any:
        answer = self.provider.authorize(request)
        if self.crash_after_authorize:
            self.crash_after_authorize -= 1
            raise SimulatedCrash("after the provider authorised")
        return answer

    def void(self, *, idempotency_key: str) -> None:
        self.provider.void(idempotency_key=idempotency_key)

    def capture(self, request: Any) -> Any:
        return self.provider.capture(request)

    def refund(self, request: Any) -> Any:
        return self.provider.refund(request)


class Clock:
    """The process manager's clock: the schedule moves it past the deadline when the deadline step comes."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


orders = st.lists(
    st.tuples(
        st.sampled_from(["under", "over", "kettles", "mixed", "declined_card", "flaky_card", "unresponsive"]),
        st.none() | st.integers(min_value=0, max_value=16),  # the step at which the customer cancels
    ),
    min_size=1,
    max_size=3,
)
steps = st.lists(
    st.sampled_from(
        [
            "publish",
            "hear_orders",
            "hear_payments",
            "hear_inventory",
            "hear_twice",
            "shipping",
            "dispatch",
            "deliver",
            "inventory",
            "inventory_unacknowledged",
            "buckets",
            "buckets_unacknowledged",
            "payments",
            "payments_crash_after_authorize",
            "orders",
            "orders_unacknowledged",
            "outage",
            "deadline",
            "cold_start",
        ]
    ),
    max_size=18,
)


@pytest.fixture
def provider() -> FakePaymentProvider:
    return FakePaymentProvider(decline_above=DECLINE_ABOVE)


@settings(
    # Modest, so the suite stays fast; SAGA_EXAMPLES=500 for a soak run.
    max_examples=int(os.environ.get("SAGA_EXAMPLES", "10")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(orders=orders, steps=steps)
def test_every_schedule_ends_in_one_terminal_state_with_nothing_held_for_a_cancelled_order(
    dynamodb, pricing_parameters, personal_data_keys, monkeypatch, provider, orders, steps
):
    # Each example its own resources in the one moto: a fresh saga, nothing left over from the last one.
    saga = Saga(monkeypatch, dynamodb, provider, pricing_parameters, suffix=f"-{uuid.uuid4().hex[:8]}")
    crashing, clock = CrashingProvider(provider), Clock()
    # Faults stay within what the template's retries absorb (Kinesis: 10 retries; SQS: 3 receives, 5 for
    # payments, whose flaky test card alone fails twice), or a healthy message would rightly be parked.
    unacknowledged = outages = crashes = 0

    def wire() -> None:
        saga.payments_module.service.provider = crashing
        saga.fulfillment_module.service._clock = clock

    def deadline_passes() -> None:
        """What the delayed deadline messages do once their time has come, for every order."""
        clock.offset = timedelta(seconds=PATIENT + 1)
        saga.fulfillment_module.service.sender.send(
            [
                OutgoingCommand(
                    "deadlines",
                    CommandMessage(
                        command_type="CheckDeadline",
                        command_id=f"CheckDeadline:schedule-{order_id}",
                        payload={
                            "order_id": order_id,
                            "deadline_at": (datetime.now(UTC) + clock.offset).isoformat(),
                        },
                    ),
                )
                for order_id, _ in placed
                if saga.process_events(order_id)  # a deadline message exists once its process has started
            ]
        )

    def cancel(order_id: str, customer: str) -> None:
        # refused (409) once the order knows its parcel left; accepted before
        assert saga.cancel_order(order_id, customer=customer) in (200, 409)

    def dispatch_all() -> None:
        for order_id, _ in placed:
            saga.dispatch(order_id, tracking_number=f"TR-{order_id[:8]}")  # 409 unless ready to ship

    wire()
    placed: list[tuple[str, str]] = []
    for kind, _ in orders:
        customer = {
            "declined_card": provider.declined_card,
            "flaky_card": provider.flaky_card,
            "unresponsive": provider.unresponsive_card,
        }.get(kind, new_customer())
        order_id, _ = saga.place_order(BASKETS.get(kind, BASKET), customer=customer)
        placed.append((order_id, customer))

    early_deadline = False
    for index, step in enumerate(steps):
        for (order_id, customer), (_, cancel_at) in zip(placed, orders, strict=True):
            if cancel_at == index:
                cancel(order_id, customer)
        match step:
            case "publish":
                for publisher in saga.publishers:
                    publisher.pump()
            case "hear_orders" | "hear_payments" | "hear_inventory":
                feed = saga.fulfillment_feeds[["hear_orders", "hear_payments", "hear_inventory"].index(step)]
                for shard in feed.shards:
                    feed.deliver(shard)
            case "hear_twice":  # a duplicate delivery: the outcome is forgotten, the same records come again
                for feed in saga.fulfillment_feeds:
                    for shard in feed.shards:
                        feed.deliver(shard, checkpoint=False)
            case "inventory":
                saga.inventory_commands.deliver()
            case "inventory_unacknowledged" if unacknowledged < 2:
                unacknowledged += 1
                saga.inventory_commands.deliver(acknowledge=False)
            case "buckets":
                saga.bucket_commands.deliver()
            case "buckets_unacknowledged" if unacknowledged < 2:
                unacknowledged += 1
                saga.bucket_commands.deliver(acknowledge=False)
            case "payments":
                saga.payment_commands.deliver()
            case "payments_crash_after_authorize" if crashes < 1:
                crashes += 1
                crashing.crash_after_authorize = 1
                saga.payment_commands.deliver()
                crashing.crash_after_authorize = 0
            case "orders":
                saga.order_commands.deliver()
            case "orders_unacknowledged" if unacknowledged < 2:
                unacknowledged += 1
                saga.order_commands.deliver(acknowledge=False)
            case "outage" if outages < 1:
                outages += 1
                provider.fail_next(1)
            case "deadline":
                early_deadline = True
                deadline_passes()
                saga.deadlines.deliver()
            case "shipping":
                saga.shipping_commands.deliver()
            case "dispatch":
                dispatch_all()
            case "deliver":
                for order_id, _ in placed:
                    saga.deliver(order_id)  # 409 unless it was dispatched: staff try, the rules answer
            case "cold_start":
                saga.cold_start(*FUNCTIONS)
                wire()

    # Customers who meant to cancel later than the schedule lasted cancel now; everything settles; the
    # deadline passes for whatever still waits (an unresponsive provider never answers); the warehouse ships
    # what is ready and the carrier delivers it.
    for (order_id, customer), (_, cancel_at) in zip(placed, orders, strict=True):
        if cancel_at is not None and cancel_at >= len(steps):
            cancel(order_id, customer)
    saga.run()
    deadline_passes()
    saga.run()
    dispatch_all()
    saga.run()
    for order_id, _ in placed:
        saga.deliver(order_id)
    saga.run()

    kettles_held = 0
    for (order_id, _), (kind, cancel_at) in zip(placed, orders, strict=True):
        types = [t for t, _ in saga.order_events(order_id)]
        entry = provider.ledger.get(payment_id_for(order_id))
        payment = saga.payment_events(order_id)
        holding = {sku: saga.stock(sku).reservations.get(order_id) for sku in SKUS if saga.stock(sku)}
        # exactly one terminal state, reached once
        assert types[0] == "OrderCreated"
        assert types.count("OrderConfirmed") <= 1, types
        assert types.count("OrderCancelled") <= 1, types
        # the capture is told to the order when payments took it, whenever that was
        types = [t for t in types if t != "OrderPaymentCaptured"]
        assert types[-1] in ("OrderDelivered", "OrderCancelled"), types
        # never authorised twice
        assert entry is None or entry.authorizations <= 1
        assert payment.count("PaymentAuthorized") <= 1
        lines = {line["sku"]: line["quantity"] for line in BASKETS.get(kind, BASKET)["lines"]}
        committed = {
            payload["sku"]: payload["quantity"]
            for sku in SKUS
            for event_type, payload in saga.stock_events(sku)
            if event_type == "StockCommitted" and payload["order_id"] == order_id
        }
        shipment = saga.shipment(order_id)
        if "CancellationRacedDispatch" in saga.process_events(order_id):
            # cancelled while its parcel was leaving: nothing undone automatically, recorded for a person
            assert types[-1] == "OrderCancelled"
        elif types[-1] == "OrderCancelled":
            # nothing held, nothing committed, nothing authorised, nothing shipped for a cancelled order
            assert all(held is None for held in holding.values()), holding
            assert committed == {}
            assert entry is None or entry.status != "authorized", entry
            assert shipment is None or shipment.status.value in ("planned", "cancelled"), shipment
        else:
            # delivered: paid once, captured once, what it held committed once, its parcel tracked
            assert entry is not None
            assert entry.status == "authorized"
            assert (entry.captures, entry.captured) == (1, entry.amount)
            assert all(held is None for held in holding.values()), holding
            assert committed == lines
            assert (shipment.status.value, shipment.tracking_number) == ("delivered", f"TR-{order_id[:8]}")
            kettles_held += lines.get("SKU-KET-001", 0)
        # the outcome the rules call for, when nothing else intervened
        if cancel_at is None and not early_deadline and kind != "kettles" and kind != "mixed":
            expected = "OrderDelivered" if kind in ("under", "flaky_card") else "OrderCancelled"
            assert types[-1] == expected, (kind, types)
    for sku in SKUS:
        stock = saga.stock(sku)
        if stock is not None:
            assert 0 <= stock.reserved <= stock.on_hand  # never negative, never promised beyond what is there
    assert kettles_held <= 10  # sold no more kettles than there were
    for feed in saga.fulfillment_feeds:
        assert feed.parked == []
    assert saga.parked("orders") == []
    assert saga.parked("inventory") == []
    assert saga.parked("shipping") == []
    # only what waits on a provider that never answers may be parked: its request, and the void queued
    # behind it in the order's FIFO group (applied once a person redrives them; a late authorisation is
    # voided by the process manager)
    unanswered = {
        order_id for (order_id, _), (kind, _) in zip(placed, orders, strict=True) if kind == "unresponsive"
    }
    parked = {json.loads(message["Body"])["payload"]["order_id"] for message in saga.parked("payments")}
    assert parked <= unanswered
