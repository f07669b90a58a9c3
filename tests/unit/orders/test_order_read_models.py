"""The orders domain's read-side functions, pure: the view of an order, and what an event adds to sales."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from eventcore import EventNotApplicableError
from eventcore.read.counters import Contribution
from orders import OrderCancelled, OrderConfirmed, order_decider
from orders.analytics import sales_contributions
from orders.events import ReturnRefunded
from orders.read_model import project_order
from orders.views import canonical_time, order_document
from tests.support.read_side import T0, created, lifecycle


class TestOrderView:
    @pytest.mark.parametrize("steps", [1, 2, 3, -1, -2])
    def test_folding_the_view_gives_the_orders_document(self, steps):
        events = lifecycle("o-1", steps=steps)
        view = None
        for event in events:
            view = project_order(view, event)
        assert {**view, "version": len(events)} == order_document(
            order_decider.fold(events, order_decider.initial_state), len(events)
        )

    def test_times_are_utc_with_microseconds_so_they_sort_as_text(self):
        view = project_order(
            None, created("o-1", at=datetime(2026, 11, 26, 11, 15, tzinfo=timezone(timedelta(hours=1))))
        )
        assert view["placed_at"] == "2026-11-26T10:15:00.000000Z"
        later = canonical_time(datetime(2026, 11, 26, 10, 15, 0, 500000, tzinfo=UTC))
        assert view["placed_at"] < later

    def test_an_event_the_order_cannot_follow_is_refused(self):
        with pytest.raises(EventNotApplicableError, match="cannot apply"):
            project_order(None, OrderConfirmed(order_id="o-1", payment_id="p", confirmed_at=T0))


class TestSalesContributions:
    def test_an_order_placed_counts_per_day_per_campaign_and_per_campaign_overall(self):
        amounts = {
            "orders": 1,
            "revenue": 4365,
            "discounts": 430,
            "subtotal": 4300,
            "shipping": 495,
            "net_revenue": 4365,
        }
        assert sales_contributions(created("o-1")) == [
            Contribution("day#2026-11-26", "total#EUR", amounts),
            Contribution("day#2026-11-26", "campaign#WELCOME10#EUR", amounts),
            Contribution("campaign#WELCOME10", "total#EUR", amounts),
        ]

    def test_an_order_without_a_campaign_counts_under_none(self):
        assert (
            sales_contributions(created("o-1", campaign_code=None, discount=0, total=4795))[1].sk
            == "campaign#none#EUR"
        )

    def test_a_cancellation_counts_apart_by_reason_on_its_own_day(self):
        cancelled = OrderCancelled(
            order_id="o-1", reason="payment_declined", cancelled_at=T0 + timedelta(days=1)
        )
        assert sales_contributions(cancelled) == [
            Contribution("day#2026-11-27", "cancellations#payment_declined", {"cancellations": 1})
        ]

    def test_a_refund_counts_on_its_own_day_and_takes_from_the_net_revenue(self):
        refunded = ReturnRefunded(
            order_id="o-1",
            return_id="r-1",
            amount=1250,
            currency="EUR",
            campaign_code=None,
            refunded_at=T0 + timedelta(days=3),
        )
        amounts = {"refunds": 1250, "net_revenue": -1250}
        assert sales_contributions(refunded) == [
            Contribution("day#2026-11-29", "total#EUR", amounts),
            Contribution("day#2026-11-29", "campaign#none#EUR", amounts),
            Contribution("campaign#none", "total#EUR", amounts),
        ]

    def test_other_events_add_nothing(self):
        assert sales_contributions(OrderConfirmed(order_id="o-1", payment_id="p", confirmed_at=T0)) == []
