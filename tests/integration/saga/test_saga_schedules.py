"""Randomised schedules of the saga (Hypothesis): duplicate deliveries, redeliveries after a crash between
steps, cold starts, provider outages and customers cancelling at any moment. Whatever the schedule, once
everything has been delivered: every order is in exactly one terminal state, no payment is authorised twice,
and no payment stays authorised for a cancelled order."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import payment_id_for
from tests.integration.saga.conftest import BASKET, DEAR_BASKET, new_customer


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


orders = st.lists(
    st.tuples(
        st.sampled_from(["under", "over", "declined_card", "flaky_card"]),
        st.none() | st.integers(min_value=0, max_value=12),  # the step at which the customer cancels
    ),
    min_size=1,
    max_size=3,
)
steps = st.lists(
    st.sampled_from(
        [
            "publish",
            "payments",
            "payments_duplicate",
            "payments_crash_after_authorize",
            "fulfillment",
            "fulfillment_duplicate",
            "commands",
            "commands_unacknowledged",
            "outage",
            "cold_start",
        ]
    ),
    max_size=14,
)


@settings(
    # Modest, so the suite stays fast; SAGA_EXAMPLES=500 for a soak run.
    max_examples=int(os.environ.get("SAGA_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(orders=orders, steps=steps)
def test_every_schedule_ends_in_one_terminal_state_with_at_most_one_authorisation(
    saga, provider, orders, steps
):
    crashing = CrashingProvider(provider)
    # Faults stay within what the template's retries absorb (Kinesis: 10 retries, SQS: 3 receives), or a
    # healthy order would rightly be parked: at most two outages, three crashes after the provider answered
    # and two unacknowledged command batches.
    unacknowledged = outages = crashes = 0

    def wire() -> None:
        saga.payments_module.service.provider = crashing

    wire()
    placed = []
    for kind, _ in orders:
        customer = {"declined_card": provider.declined_card, "flaky_card": provider.flaky_card}.get(
            kind, new_customer()
        )
        order_id, _ = saga.place_order(DEAR_BASKET if kind == "over" else BASKET, customer=customer)
        placed.append((order_id, customer))

    for index, step in enumerate(steps):
        for (order_id, customer), (_, cancel_at) in zip(placed, orders, strict=True):
            if cancel_at == index:
                assert saga.cancel_order(order_id, customer=customer) == 200
        shards = saga.payments.shards()
        match step:
            case "publish":
                saga.publish_orders.pump()
                saga.publish_payments.pump()
            case "payments" | "payments_duplicate":
                for shard in shards:
                    saga.payments.deliver(shard, checkpoint=step == "payments")
            case "payments_crash_after_authorize" if crashes < 3:
                crashes += 1
                crashing.crash_after_authorize = 1
                for shard in shards:
                    saga.payments.deliver(shard)
                crashing.crash_after_authorize = 0
            case "fulfillment" | "fulfillment_duplicate":
                for shard in saga.fulfillment.shards():
                    saga.fulfillment.deliver(shard, checkpoint=step == "fulfillment")
            case "commands":
                saga.commands.deliver()
            case "commands_unacknowledged" if unacknowledged < 2:
                unacknowledged += 1
                saga.commands.deliver(acknowledge=False)
            case "outage" if outages < 2:
                outages += 1
                provider.fail_next(2)
            case "cold_start":
                saga.cold_start("payments_handler", "fulfillment_manager", "order_command_handler")
                wire()

    # Customers who meant to cancel later than the schedule lasted cancel now, then everything settles.
    for (order_id, customer), (_, cancel_at) in zip(placed, orders, strict=True):
        if cancel_at is not None and cancel_at >= len(steps):
            assert saga.cancel_order(order_id, customer=customer) == 200
    saga.run()

    for (order_id, _), (kind, cancel_at) in zip(placed, orders, strict=True):
        types = [t for t, _ in saga.order_events(order_id)]
        entry = provider.ledger.get(payment_id_for(order_id))
        payment = saga.payment_events(order_id)
        # exactly one terminal state, reached once
        assert types[0] == "OrderCreated"
        assert types.count("OrderConfirmed") <= 1
        assert types.count("OrderCancelled") <= 1
        assert types[-1] in ("OrderConfirmed", "OrderCancelled"), types
        # never authorised twice, never left authorised for a cancelled order
        assert entry is None or entry.authorizations <= 1
        assert payment.count("PaymentAuthorized") <= 1
        if types[-1] == "OrderCancelled":
            assert entry is None or entry.status != "authorized"
            assert payment[-1] in ("PaymentDeclined", "PaymentVoided"), payment
        else:
            assert entry is not None
            assert entry.status == "authorized"
            assert payment[-1] == "PaymentAuthorized"
        # and the outcome is the one the rules call for
        if cancel_at is None:
            expected = "OrderConfirmed" if kind in ("under", "flaky_card") else "OrderCancelled"
            assert types[-1] == expected, (kind, types)
        else:
            assert types[-1] == "OrderCancelled"
    assert saga.payments.parked == []
    assert saga.fulfillment.parked == []
    assert saga.parked_commands() == []
