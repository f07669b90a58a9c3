"""The shipments read model for warehouse staff: one row per shipment, built by the Shipment aggregate's own
`evolve` (so it cannot drift from the write model's rules), with `status_since` for the oldest-first queue
of parcels to pick. No customer data: staff see what goes in the parcel and where it goes."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

from eventcore import EventNotApplicableError
from eventcore.read.projector import Projection
from eventcore.read.view_store import ViewIndex
from shipping.events import shipment_events
from shipping.shipment import Shipment, evolve, shipment_decider

if TYPE_CHECKING:
    from eventcore import Event

# Shipments of one status, oldest first: status_since is UTC ISO 8601 with microseconds (sorts as text).
SHIPMENTS_BY_STATUS = ViewIndex("by-status", partition="status", sort="status_since")


def project_shipment(view: dict[str, Any] | None, event: Event) -> dict[str, Any]:
    state = (
        None
        if view is None
        else Shipment.model_validate({k: v for k, v in view.items() if k != "status_since"})
    )
    shipment = evolve(state, event)
    if shipment is None:
        raise EventNotApplicableError(event, view)
    document = shipment.model_dump(mode="json")
    document["updated_at"] = (
        shipment.updated_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )
    # When the shipment entered its status: kept while the status stays, so the queue keeps its order.
    same_status = view is not None and state is not None and state.status == shipment.status
    document["status_since"] = view["status_since"] if same_status and view else document["updated_at"]
    return document


shipment_projection = Projection(
    aggregate=shipment_decider.aggregate,
    key_attribute="shipment_id",
    registry=shipment_events,
    project=project_shipment,
)
