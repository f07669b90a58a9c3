"""The shipping service on the in-memory store: shipments follow the commands the order-fulfillment process
queues, staff dispatch and deliver them, the label is printed once the dispatch is recorded (and again by a
retry, which a failed print needs), and nothing is recorded twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from eventcore import DeciderRunner, IdempotencyConflictError, InMemoryEventStore
from eventcore.messaging.inbound import CommandMessage, MalformedMessageError
from orders.personal_details import PersonalDetails, ShippingAddress
from shipping import (
    AlreadyDispatchedError,
    ShipmentAddressErasedError,
    ShipmentAddressMissingError,
    ShipmentNotFoundError,
    ShipmentStatus,
    ShippingService,
    shipment_decider,
)
from shipping.labels import DiscardingLabelPrinter
from shipping.queued import QUEUED_COMMANDS
from shipping.shipment import shipment_id_for
from tests.support.vault import InMemoryVault

if TYPE_CHECKING:
    from collections.abc import Callable

    from eventcore import Commit

ORDER = "0f8e4c1a-3b2d-4e6f-9a7b-1c2d3e4f5a6b"
SHIPMENT = shipment_id_for(ORDER)
AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC).isoformat()


def queued(command_type: str, payload: dict, *, command_id: str) -> CommandMessage:
    return CommandMessage(
        command_type=command_type,
        command_id=command_id,
        payload=payload,
        correlation_id="corr-1",
        causation_id="e-cause",
    )


ADDRESS = ShippingAddress(
    name="Alice Example", line1="Kade 1", city="Utrecht", postal_code="3511 AA", country="NL"
)
PLAN = {
    "order_id": ORDER,
    "customer_id": "alice",
    "lines": [{"sku": "SKU-TEA-001", "name": "Green tea", "quantity": 2}],
    "destination_country": "NL",
    "at": AT,
}
UNADDRESSED = queued("PlanShipment", PLAN, command_id="PlanShipment:e-1")
READY = queued("MarkShipmentReady", {"order_id": ORDER, "at": AT}, command_id="MarkShipmentReady:e-2")


@pytest.fixture
def vault() -> InMemoryVault:
    return InMemoryVault()


@pytest.fixture
def labels() -> DiscardingLabelPrinter:
    return DiscardingLabelPrinter()


@pytest.fixture
def service(vault: InMemoryVault, labels: DiscardingLabelPrinter) -> ShippingService:
    return ShippingService(DeciderRunner(shipment_decider, InMemoryEventStore()), vault=vault, labels=labels)


@pytest.fixture
def PLANNED(vault: InMemoryVault) -> CommandMessage:
    sealed = vault.key_for("alice").seal(PersonalDetails(shipping_address=ADDRESS).model_dump(mode="json"))
    return queued(
        "PlanShipment", PLAN | {"personal": sealed.model_dump(mode="json")}, command_id="PlanShipment:e-1"
    )


def status(service: ShippingService) -> ShipmentStatus:
    shipment = service.runner.load(SHIPMENT).state
    assert shipment is not None
    return shipment.status


class TestTheProcessCommands:
    def test_a_planned_then_readied_parcel_is_ready_to_ship_and_redeliveries_change_nothing(
        self, service, PLANNED
    ):
        assert service.apply_queued(PLANNED) == "planned"
        assert service.apply_queued(READY) == "ready to ship"
        assert service.apply_queued(READY) == "already ready to ship"
        assert service.apply_queued(PLANNED) == "already planned"
        assert status(service) is ShipmentStatus.READY_TO_SHIP

    def test_a_cancellation_before_dispatch_cancels_and_after_it_asks_for_a_return(self, service, PLANNED):
        service.apply_queued(PLANNED)
        service.apply_queued(READY)
        payload = {"order_id": ORDER, "reason": "customer_request", "at": AT}
        service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        cancel = queued("CancelShipment", payload, command_id="CancelShipment:e-3")
        assert "arrange a return" in service.apply_queued(cancel)
        assert status(service) is ShipmentStatus.DISPATCHED

    def test_a_cancellation_of_a_parcel_never_planned_is_acknowledged(self, service):
        payload = {"order_id": ORDER, "reason": "out_of_stock", "at": AT}
        cancel = queued("CancelShipment", payload, command_id="CancelShipment:e-3")
        assert service.apply_queued(cancel) == "nothing to cancel: never planned"

    def test_readying_a_parcel_not_planned_yet_fails_to_be_retried(self, service):
        with pytest.raises(ShipmentNotFoundError):
            service.apply_queued(READY)

    def test_the_contract_is_three_commands_and_anything_else_is_refused(self, service):
        assert set(QUEUED_COMMANDS) == {"PlanShipment", "MarkShipmentReady", "CancelShipment"}
        with pytest.raises(MalformedMessageError, match="unknown command type"):
            service.apply_queued(queued("TeleportShipment", {"order_id": ORDER}, command_id="x"))
        with pytest.raises(MalformedMessageError, match="lines"):
            service.apply_queued(queued("PlanShipment", PLAN | {"lines": []}, command_id="y"))


class TestStaff:
    def test_dispatch_is_idempotent_by_key_and_refused_with_another_tracking_number(self, service, PLANNED):
        service.apply_queued(PLANNED)
        service.apply_queued(READY)
        first = service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key="k-1", correlation_id=None)
        again = service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key="k-1", correlation_id=None)
        assert (first.recorded, again.replayed) == (1, True)
        with pytest.raises(AlreadyDispatchedError, match="TR-1"):
            service.dispatch(SHIPMENT, "PostNL", "TR-2", idempotency_key=None, correlation_id=None)
        with pytest.raises(IdempotencyConflictError):
            service.dispatch(SHIPMENT, "PostNL", "TR-2", idempotency_key="k-1", correlation_id=None)

    def test_an_id_shipping_never_hands_out_is_not_found_before_any_read(self, service):
        with pytest.raises(ShipmentNotFoundError):
            service.dispatch("x" * 3000, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        with pytest.raises(ShipmentNotFoundError):
            service.deliver(SHIPMENT, idempotency_key=None, correlation_id=None)


class TestTheAddress:
    def test_dispatch_hands_the_opened_address_to_the_label_and_keeps_it_sealed(
        self, service, labels, PLANNED
    ):
        service.apply_queued(PLANNED)
        service.apply_queued(READY)
        answer = service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        assert labels.printed == [SHIPMENT]
        assert ADDRESS.line1 not in answer.shipment.model_dump_json()

    def test_an_address_erased_after_confirmation_is_refused_at_dispatch_and_the_shipment_held(
        self, service, vault, labels, PLANNED
    ):
        service.apply_queued(PLANNED)
        service.apply_queued(READY)
        vault.erase("alice")
        for _ in range(2):  # staff try again: the same refusal, held once
            with pytest.raises(ShipmentAddressErasedError, match="erased"):
                service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        assert (labels.printed, status(service)) == ([], ShipmentStatus.UNDELIVERABLE)
        events = [e.event_type for c in service.runner.store.read(f"Shipment-{SHIPMENT}") for e in c.events]
        assert events == ["ShipmentPlanned", "ShipmentReady", "ShipmentUndeliverable"]

    def test_an_address_erased_while_the_order_was_in_flight_holds_it_when_confirmed(
        self, service, vault, PLANNED
    ):
        service.apply_queued(PLANNED)
        vault.erase("alice")
        assert service.apply_queued(READY) == "held: address erased"
        assert status(service) is ShipmentStatus.UNDELIVERABLE

    def test_an_order_placed_without_an_address_cannot_be_shipped(self, service):
        service.apply_queued(UNADDRESSED)
        service.apply_queued(READY)
        with pytest.raises(ShipmentAddressMissingError, match="without a shipping address"):
            service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        assert status(service) is ShipmentStatus.READY_TO_SHIP


class RacingStore(InMemoryEventStore):
    """A log where another container's commit lands between a container's load and its append: the next
    append first runs `rival` (which appends through this same store), so the append then conflicts."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: Callable[[], object] | None = None

    def append(self, commit: Commit) -> None:
        rival, self.rival = self.rival, None
        if rival is not None:
            rival()
        super().append(commit)


class JammedOncePrinter(DiscardingLabelPrinter):
    """A carrier's printer that refuses its first label."""

    jams: int = 1

    def print_label(
        self, shipment_id: str, carrier: str, tracking_number: str, address: dict[str, Any]
    ) -> None:
        if self.jams:
            self.jams -= 1
            raise RuntimeError("the label printer jammed")
        super().print_label(shipment_id, carrier, tracking_number, address)


class TestTheLabel:
    def test_it_is_printed_once_the_dispatch_is_recorded_and_again_on_a_retry(self, service, labels, PLANNED):
        service.apply_queued(PLANNED)
        service.apply_queued(READY)
        first = service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key="scan-1", correlation_id=None)
        again = service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key="scan-1", correlation_id=None)
        assert (first.recorded, again.replayed) == (1, True)
        assert labels.printed == [SHIPMENT, SHIPMENT]  # the carrier keys it by tracking number: harmless

    def test_a_dispatch_that_loses_a_race_after_its_load_prints_nothing(self, vault, PLANNED):
        # GIVEN two containers on one log, the parcel ready to ship
        store = RacingStore()
        winner_labels, loser_labels = DiscardingLabelPrinter(), DiscardingLabelPrinter()
        winner = ShippingService(DeciderRunner(shipment_decider, store), vault=vault, labels=winner_labels)
        loser = ShippingService(DeciderRunner(shipment_decider, store), vault=vault, labels=loser_labels)
        winner.apply_queued(PLANNED)
        winner.apply_queued(READY)
        # WHEN one container loads the parcel ready to ship, and the other's dispatch is recorded before the
        # first one's append
        store.rival = lambda: winner.dispatch(
            SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None
        )
        with pytest.raises(AlreadyDispatchedError):
            loser.dispatch(SHIPMENT, "DHL", "TR-2", idempotency_key=None, correlation_id=None)
        # THEN only the parcel that left has a label, under the tracking number it left with
        assert (winner_labels.printed, loser_labels.printed) == ([SHIPMENT], [])
        assert status(winner) is ShipmentStatus.DISPATCHED

    def test_a_label_that_failed_to_print_is_printed_by_the_retry(self, vault, PLANNED):
        # GIVEN a printer that jams on the first label
        labels = JammedOncePrinter()
        service = ShippingService(
            DeciderRunner(shipment_decider, InMemoryEventStore()), vault=vault, labels=labels
        )
        service.apply_queued(PLANNED)
        service.apply_queued(READY)
        # WHEN the dispatch is recorded but its label fails
        with pytest.raises(RuntimeError, match="jammed"):
            service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key="scan-1", correlation_id=None)
        assert (status(service), labels.printed) == (ShipmentStatus.DISPATCHED, [])
        # THEN the staff's retry with the same Idempotency-Key replays the dispatch and prints the label
        answer = service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key="scan-1", correlation_id=None)
        assert (answer.replayed, answer.recorded) == (True, 0)
        assert labels.printed == [SHIPMENT]

    def test_a_retry_after_the_address_was_erased_prints_nothing_and_says_so(self, vault, PLANNED):
        labels = JammedOncePrinter()
        service = ShippingService(
            DeciderRunner(shipment_decider, InMemoryEventStore()), vault=vault, labels=labels
        )
        service.apply_queued(PLANNED)
        service.apply_queued(READY)
        with pytest.raises(RuntimeError, match="jammed"):
            service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key="scan-1", correlation_id=None)
        vault.erase("alice")
        with pytest.raises(ShipmentAddressErasedError):
            service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key="scan-1", correlation_id=None)
        assert (status(service), labels.printed) == (ShipmentStatus.DISPATCHED, [])
