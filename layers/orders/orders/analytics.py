"""Sales analytics as pure functions: what one order event adds to the sales counters. Per day (UTC) and per
campaign code: orders placed, revenue (what customers pay: the total, shipping included), discounts given,
refunds (what returns gave back, on the day they were refunded) and net revenue (revenue less refunds);
cancellations are counted apart, per day and reason. Amounts are minor units, one counter per currency.
A batch's tallies are summed per counter before writing (`eventcore.read.counters`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eventcore.messaging.inbound import read_published_event
from eventcore.read.counters import Contribution, Tally
from orders.events import OrderCancelled, OrderCreated, ReturnRefunded, order_events

if TYPE_CHECKING:
    from eventcore import Event

NO_CAMPAIGN = "none"


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def sales_contributions(event: Event) -> list[Contribution]:
    match event:
        case OrderCreated() as created:
            day, campaign, currency = (
                day_of(created.placed_at),
                created.campaign_code or NO_CAMPAIGN,
                created.currency,
            )
            amounts = {
                "orders": 1,
                "revenue": created.total,
                "discounts": created.discount,
                "subtotal": created.subtotal,
                "shipping": created.shipping,
                "net_revenue": created.total,
            }
            return [
                Contribution(f"day#{day}", f"total#{currency}", amounts),
                Contribution(f"day#{day}", f"campaign#{campaign}#{currency}", amounts),
                Contribution(f"campaign#{campaign}", f"total#{currency}", amounts),
            ]
        case ReturnRefunded() as refunded if refunded.amount:
            day, campaign, currency = (
                day_of(refunded.refunded_at),
                refunded.campaign_code or NO_CAMPAIGN,
                refunded.currency,
            )
            amounts = {"refunds": refunded.amount, "net_revenue": -refunded.amount}
            return [
                Contribution(f"day#{day}", f"total#{currency}", amounts),
                Contribution(f"day#{day}", f"campaign#{campaign}#{currency}", amounts),
                Contribution(f"campaign#{campaign}", f"total#{currency}", amounts),
            ]
        case OrderCancelled() as cancelled:
            return [
                Contribution(
                    f"day#{day_of(cancelled.cancelled_at)}",
                    f"cancellations#{cancelled.reason}",
                    {"cancellations": 1},
                )
            ]
    return []


def sales_tally(source: str, published_bytes: bytes) -> Tally | None:
    """What one published order event (a CloudEvent from `order-events`) adds to the counters, under its
    event id; None for an event that moves no sales figure. Upcast to the current schema first, so the
    counters read one shape whatever version was published; a type or version this code does not know
    raises, so the record is reported and parked, never silently skipped."""
    published = read_published_event(published_bytes)
    event = order_events.decode_data(published.event_type, published.schema_version, published.data)
    contributions = sales_contributions(event)
    return Tally(source, published.event_id, tuple(contributions)) if contributions else None
