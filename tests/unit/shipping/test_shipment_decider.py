"""The Shipment decider: given past events, when a command, then new events or a refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventcore import EventNotApplicableError
from shipping import (
    AlreadyDispatchedError,
    CancelShipment,
    DeliverShipment,
    DispatchShipment,
    HoldUndeliverable,
    MarkReady,
    PlanShipment,
    ShipmentAddressErasedError,
    ShipmentAlreadyLeftError,
    ShipmentCancelled,
    ShipmentCancelledError,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentLine,
    ShipmentNotDispatchedError,
    ShipmentNotFoundError,
    ShipmentNotReadyError,
    ShipmentPlanned,
    ShipmentReady,
    ShipmentStatus,
    ShipmentUndeliverable,
    shipment_decider,
    shipment_id_for,
)
from tests.support.deciders import DeciderSpec

ORDER = "0f8e4c1a-3b2d-4e6f-9a7b-1c2d3e4f5a6b"
SHIPMENT = shipment_id_for(ORDER)
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
T1, T2, T3 = (T0 + timedelta(minutes=n) for n in (1, 2, 3))
LINES = (ShipmentLine(sku="SKU-TEA-001", name="Green tea", quantity=2),)

spec = DeciderSpec(shipment_decider)
planned = ShipmentPlanned(
    shipment_id=SHIPMENT,
    order_id=ORDER,
    customer_id="alice",
    lines=LINES,
    destination_country="NL",
    planned_at=T0,
)
ready = ShipmentReady(shipment_id=SHIPMENT, order_id=ORDER, ready_at=T1)


def dispatch(tracking: str = "TRACK-1", at: datetime = T2) -> DispatchShipment:
    return DispatchShipment(shipment_id=SHIPMENT, carrier="PostNL", tracking_number=tracking, at=at)


dispatched = ShipmentDispatched(
    shipment_id=SHIPMENT, order_id=ORDER, carrier="PostNL", tracking_number="TRACK-1", dispatched_at=T2
)


class TestPlanAndReady:
    def test_a_placed_order_plans_its_shipment_and_its_confirmation_makes_it_ready(self):
        plan = PlanShipment(
            shipment_id=SHIPMENT,
            order_id=ORDER,
            customer_id="alice",
            lines=LINES,
            destination_country="NL",
            at=T0,
        )
        spec.given().when(plan).then(planned)
        state = spec.given(planned).when(MarkReady(shipment_id=SHIPMENT, at=T1)).then(ready)
        assert state is not None
        assert state.status is ShipmentStatus.READY_TO_SHIP

    def test_redeliveries_change_nothing(self):
        plan = PlanShipment(
            shipment_id=SHIPMENT,
            order_id=ORDER,
            customer_id="alice",
            lines=LINES,
            destination_country="NL",
            at=T0,
        )
        spec.given(planned).when(plan).then()
        spec.given(planned, ready).when(MarkReady(shipment_id=SHIPMENT, at=T2)).then()

    def test_a_shipment_never_planned_is_not_found(self):
        spec.given().when(dispatch()).then_raises(ShipmentNotFoundError)

    def test_the_id_is_one_per_order(self):
        assert shipment_id_for(ORDER) == SHIPMENT != shipment_id_for("another-order")


class TestDispatch:
    def test_a_ready_shipment_is_dispatched_with_its_carrier_and_tracking_number(self):
        state = spec.given(planned, ready).when(dispatch()).then(dispatched)
        assert state is not None
        assert (state.status, state.carrier, state.tracking_number) == (
            ShipmentStatus.DISPATCHED,
            "PostNL",
            "TRACK-1",
        )

    def test_the_same_dispatch_again_records_nothing(self):
        spec.given(planned, ready, dispatched).when(dispatch(at=T3)).then()

    def test_dispatching_again_with_another_tracking_number_is_refused(self):
        spec.given(planned, ready, dispatched).when(dispatch("TRACK-2")).then_raises(
            AlreadyDispatchedError, "TRACK-1"
        )

    def test_a_shipment_not_yet_ready_cannot_leave(self):
        spec.given(planned).when(dispatch()).then_raises(ShipmentNotReadyError, "planned")

    def test_a_cancelled_shipment_cannot_leave(self):
        cancelled = ShipmentCancelled(
            shipment_id=SHIPMENT, order_id=ORDER, reason="customer_request", cancelled_at=T1
        )
        spec.given(planned, ready, cancelled).when(dispatch()).then_raises(ShipmentCancelledError)


class TestDeliver:
    def test_a_dispatched_shipment_is_delivered_once(self):
        delivered = ShipmentDelivered(shipment_id=SHIPMENT, order_id=ORDER, delivered_at=T3)
        spec.given(planned, ready, dispatched).when(DeliverShipment(shipment_id=SHIPMENT, at=T3)).then(
            delivered
        )
        spec.given(planned, ready, dispatched, delivered).when(
            DeliverShipment(shipment_id=SHIPMENT, at=T3)
        ).then()

    def test_a_parcel_still_in_the_warehouse_cannot_be_delivered(self):
        given = spec.given(planned, ready)
        given.when(DeliverShipment(shipment_id=SHIPMENT, at=T2)).then_raises(ShipmentNotDispatchedError)


class TestCancel:
    def test_before_dispatch_the_shipment_is_cancelled(self):
        cancel = CancelShipment(shipment_id=SHIPMENT, reason="customer_request", at=T2)
        cancelled = ShipmentCancelled(
            shipment_id=SHIPMENT, order_id=ORDER, reason="customer_request", cancelled_at=T2
        )
        spec.given(planned, ready).when(cancel).then(cancelled)
        spec.given(planned, ready, cancelled).when(cancel).then()

    def test_after_dispatch_it_is_too_late(self):
        cancel = CancelShipment(shipment_id=SHIPMENT, reason="customer_request", at=T3)
        spec.given(planned, ready, dispatched).when(cancel).then_raises(ShipmentAlreadyLeftError, "return")


class TestUndeliverable:
    hold = HoldUndeliverable(shipment_id=SHIPMENT, reason="address_erased", at=T2)
    held = ShipmentUndeliverable(shipment_id=SHIPMENT, order_id=ORDER, reason="address_erased", noticed_at=T2)

    def test_a_shipment_not_yet_gone_is_held_once_and_then_cannot_leave_nor_needs_cancelling(self):
        spec.given(planned).when(self.hold).then(self.held)
        state = spec.given(planned, ready).when(self.hold).then(self.held)
        assert state is not None
        assert state.status is ShipmentStatus.UNDELIVERABLE
        spec.given(planned, ready, self.held).when(self.hold).then()
        spec.given(planned, ready, self.held).when(dispatch()).then_raises(
            ShipmentAddressErasedError, "erased"
        )
        cancel = CancelShipment(shipment_id=SHIPMENT, reason="address_erased", at=T3)
        spec.given(planned, ready, self.held).when(cancel).then()

    def test_a_parcel_gone_or_cancelled_is_not_held(self):
        spec.given(planned, ready, dispatched).when(self.hold).then()
        cancelled = ShipmentCancelled(
            shipment_id=SHIPMENT, order_id=ORDER, reason="out_of_stock", cancelled_at=T1
        )
        spec.given(planned, cancelled).when(self.hold).then()


class TestEvolve:
    def test_a_second_plan_is_a_broken_log(self):
        with pytest.raises(EventNotApplicableError, match="ShipmentPlanned"):
            shipment_decider.fold([planned, planned], None)

    def test_state_survives_a_snapshot_round_trip(self):
        state = shipment_decider.fold([planned, ready, dispatched], None)
        assert shipment_decider.load_state(shipment_decider.dump_state(state)) == state
