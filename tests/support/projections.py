"""A changed projection of the orders view, for the tests of blue/green rebuilds: the order's document as
`orders.read_model` makes it, plus `units` (the quantity ordered over all lines), which the running logic
does not have. Importable by the local cloud's functions too: they run with the repository on their path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventcore.read.projector import Projection
from orders.read_model import order_projection, project_order

if TYPE_CHECKING:
    from eventcore import Event

NAME = "tests.support.projections:order_projection_with_units"


def project_order_with_units(view: dict[str, Any] | None, event: Event) -> dict[str, Any]:
    previous = None if view is None else {k: v for k, v in view.items() if k != "units"}
    document = project_order(previous, event)
    return {**document, "units": sum(line["quantity"] for line in document["lines"])}


order_projection_with_units = Projection(
    aggregate=order_projection.aggregate,
    key_attribute=order_projection.key_attribute,
    registry=order_projection.registry,
    project=project_order_with_units,
)


def project_nothing_well(view: dict[str, Any] | None, event: Event) -> dict[str, Any]:
    raise ValueError(f"this projection cannot apply {event.event_type()}")


BROKEN = "tests.support.projections:broken_order_projection"
broken_order_projection = Projection(
    aggregate=order_projection.aggregate,
    key_attribute=order_projection.key_attribute,
    registry=order_projection.registry,
    project=project_nothing_well,
)
