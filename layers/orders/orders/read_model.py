"""The orders read model: one row per order, the order's document, built by the Order aggregate's own
`evolve`, so the read model cannot drift from the write model's rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventcore import EventNotApplicableError
from eventcore.read.projector import Projection
from orders.events import order_events
from orders.order import Order, evolve, order_decider
from orders.views import order_view

if TYPE_CHECKING:
    from eventcore import Event


def project_order(view: dict[str, Any] | None, event: Event) -> dict[str, Any]:
    """Pure: the order's view after `event`. Raises (like `evolve`) on an event the view cannot follow."""
    state = None if view is None else Order.model_validate(view)
    order = evolve(state, event)
    if order is None:  # evolve never forgets an order; a None here means a damaged stream
        raise EventNotApplicableError(event, view)
    return order_view(order)


order_projection = Projection(
    aggregate=order_decider.aggregate,
    key_attribute="order_id",
    registry=order_events,
    project=project_order,
)
