"""The Shipment aggregate as a decider, one per order: planned when the order is placed, ready to pick once
it is confirmed, dispatched by warehouse staff with a carrier and tracking number, delivered. Pure: time
arrives with the command."""

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore import Decider, Event, EventNotApplicableError
from eventcore.personal_data import SealedData
from shipping.commands import (
    CancelShipment,
    DeliverShipment,
    DispatchShipment,
    HoldUndeliverable,
    MarkReady,
    PlanShipment,
    ShipmentCommand,
    ShipmentLine,
)
from shipping.errors import (
    AlreadyDispatchedError,
    ShipmentAddressErasedError,
    ShipmentAlreadyLeftError,
    ShipmentCancelledError,
    ShipmentNotDispatchedError,
    ShipmentNotFoundError,
    ShipmentNotReadyError,
)
from shipping.events import (
    ShipmentCancelled,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentPlanned,
    ShipmentReady,
    ShipmentUndeliverable,
    shipment_events,
)

# Fixed forever: changing it would give every order a second shipment.
SHIPMENT_ID_NAMESPACE = uuid.UUID("c3a6f1d2-8b4e-4f7a-9d0c-5e2b7a1f3c84")


def shipment_id_for(order_id: str) -> str:
    """The one shipment of an order: the same id for every delivery of the order's events."""
    return str(uuid.uuid5(SHIPMENT_ID_NAMESPACE, order_id))


# -- state ---------------------------------------------------------------------------------------------------


class ShipmentStatus(StrEnum):
    PLANNED = "planned"
    READY_TO_SHIP = "ready_to_ship"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    UNDELIVERABLE = "undeliverable"  # held: its address was erased


class Shipment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    shipment_id: str
    order_id: str
    customer_id: str
    status: ShipmentStatus
    lines: tuple[ShipmentLine, ...]
    destination_country: str
    personal: SealedData | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    updated_at: AwareDatetime


def evolve(state: Shipment | None, event: Event) -> Shipment | None:
    match state, event:
        case None, ShipmentPlanned() as planned:
            return Shipment(
                shipment_id=planned.shipment_id,
                order_id=planned.order_id,
                customer_id=planned.customer_id,
                status=ShipmentStatus.PLANNED,
                lines=planned.lines,
                destination_country=planned.destination_country,
                personal=planned.personal,
                updated_at=planned.planned_at,
            )
        case Shipment() as shipment, ShipmentReady() as ready:
            return shipment.model_copy(
                update={"status": ShipmentStatus.READY_TO_SHIP, "updated_at": ready.ready_at}
            )
        case Shipment() as shipment, ShipmentDispatched() as dispatched:
            return shipment.model_copy(
                update={
                    "status": ShipmentStatus.DISPATCHED,
                    "carrier": dispatched.carrier,
                    "tracking_number": dispatched.tracking_number,
                    "updated_at": dispatched.dispatched_at,
                }
            )
        case Shipment() as shipment, ShipmentDelivered() as delivered:
            return shipment.model_copy(
                update={"status": ShipmentStatus.DELIVERED, "updated_at": delivered.delivered_at}
            )
        case Shipment() as shipment, ShipmentCancelled() as cancelled:
            return shipment.model_copy(
                update={"status": ShipmentStatus.CANCELLED, "updated_at": cancelled.cancelled_at}
            )
        case Shipment() as shipment, ShipmentUndeliverable() as held:
            return shipment.model_copy(
                update={"status": ShipmentStatus.UNDELIVERABLE, "updated_at": held.noticed_at}
            )
    # Only a damaged or misrouted stream gets here (a second plan, a change before the plan).
    raise EventNotApplicableError(event, state)


# -- decisions -----------------------------------------------------------------------------------------------


def decide(command: ShipmentCommand, state: Shipment | None) -> list[Event]:
    match command, state:
        case PlanShipment() as plan, None:
            return [
                ShipmentPlanned(
                    shipment_id=plan.shipment_id,
                    order_id=plan.order_id,
                    customer_id=plan.customer_id,
                    lines=plan.lines,
                    destination_country=plan.destination_country,
                    personal=plan.personal,
                    planned_at=plan.at,
                )
            ]
        case PlanShipment(), Shipment():
            return []  # a redelivered order
        case _, None:
            raise ShipmentNotFoundError(command.shipment_id)

        case MarkReady() as ready, Shipment(status=ShipmentStatus.PLANNED) as shipment:
            return [
                ShipmentReady(shipment_id=shipment.shipment_id, order_id=shipment.order_id, ready_at=ready.at)
            ]
        case MarkReady(), Shipment():
            return []  # ready already, or further on: a redelivered confirmation, or one after a cancellation

        case DispatchShipment() as dispatch, Shipment(status=ShipmentStatus.READY_TO_SHIP) as shipment:
            return [
                ShipmentDispatched(
                    shipment_id=shipment.shipment_id,
                    order_id=shipment.order_id,
                    carrier=dispatch.carrier,
                    tracking_number=dispatch.tracking_number,
                    dispatched_at=dispatch.at,
                )
            ]
        case DispatchShipment() as dispatch, Shipment(
            status=ShipmentStatus.DISPATCHED | ShipmentStatus.DELIVERED
        ) as shipment:
            if (dispatch.carrier, dispatch.tracking_number) == (shipment.carrier, shipment.tracking_number):
                return []  # the same dispatch again: already recorded
            raise AlreadyDispatchedError(
                shipment.shipment_id, shipment.carrier or "", shipment.tracking_number or ""
            )
        case DispatchShipment(), Shipment(status=ShipmentStatus.CANCELLED) as shipment:
            raise ShipmentCancelledError(shipment.shipment_id)
        case DispatchShipment(), Shipment(status=ShipmentStatus.UNDELIVERABLE) as shipment:
            raise ShipmentAddressErasedError(shipment.shipment_id)
        case DispatchShipment(), Shipment() as shipment:
            raise ShipmentNotReadyError(shipment.shipment_id, shipment.status.value)

        case DeliverShipment() as deliver, Shipment(status=ShipmentStatus.DISPATCHED) as shipment:
            return [
                ShipmentDelivered(
                    shipment_id=shipment.shipment_id, order_id=shipment.order_id, delivered_at=deliver.at
                )
            ]
        case DeliverShipment(), Shipment(status=ShipmentStatus.DELIVERED):
            return []
        case DeliverShipment(), Shipment() as shipment:
            raise ShipmentNotDispatchedError(shipment.shipment_id, shipment.status.value)

        case CancelShipment() as cancel, Shipment(
            status=ShipmentStatus.PLANNED | ShipmentStatus.READY_TO_SHIP
        ) as shipment:
            return [
                ShipmentCancelled(
                    shipment_id=shipment.shipment_id,
                    order_id=shipment.order_id,
                    reason=cancel.reason,
                    cancelled_at=cancel.at,
                )
            ]
        case CancelShipment(), Shipment(status=ShipmentStatus.CANCELLED | ShipmentStatus.UNDELIVERABLE):
            return []  # nothing will be shipped already
        case CancelShipment(), Shipment() as shipment:
            raise ShipmentAlreadyLeftError(shipment.shipment_id, shipment.status.value)

        case HoldUndeliverable() as hold, Shipment(
            status=ShipmentStatus.PLANNED | ShipmentStatus.READY_TO_SHIP
        ) as shipment:
            return [
                ShipmentUndeliverable(
                    shipment_id=shipment.shipment_id,
                    order_id=shipment.order_id,
                    reason=hold.reason,
                    noticed_at=hold.at,
                )
            ]
        case HoldUndeliverable(), Shipment():
            return []  # held already, gone, or cancelled: nothing to hold
    raise TypeError(f"not a shipment command: {command!r}")


shipment_decider: Decider[ShipmentCommand, Shipment | None] = Decider(
    aggregate="Shipment",
    initial_state=None,
    decide=decide,
    evolve=evolve,
    registry=shipment_events,
    state_type=Shipment | None,
)
