"""The shipping service on the in-memory store: shipments follow the orders' published events, staff
dispatch and deliver them, and nothing is recorded twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventcore import DeciderRunner, IdempotencyConflictError, InMemoryEventStore
from eventcore.messaging.inbound import PublishedEvent, UnexpectedEventError
from orders.events import OrderCancelled, OrderConfirmed, OrderCreated, OrderDelivered, OrderShipped
from orders.personal import PersonalDetails, ShippingAddress
from shipping import (
    AlreadyDispatchedError,
    ShipmentAddressErasedError,
    ShipmentAddressMissingError,
    ShipmentNotFoundError,
    ShipmentStatus,
    ShippingService,
    shipment_decider,
)
from shipping.inbound import ORDER_EVENTS
from shipping.labels import DiscardingLabelPrinter
from shipping.shipment import shipment_id_for
from tests.support.vault import InMemoryVault

ORDER = "0f8e4c1a-3b2d-4e6f-9a7b-1c2d3e4f5a6b"
SHIPMENT = shipment_id_for(ORDER)
AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC).isoformat()


def published(event_type: str, data: dict, *, event_id: str, version: int = 1) -> PublishedEvent:
    return PublishedEvent(
        event_id=event_id,
        source="urn:orders-microsystem:orders",
        event_type=event_type,
        schema_version=version,
        subject=ORDER,
        data=data,
        correlation_id="corr-1",
        causation_id=None,
    )


ADDRESS = ShippingAddress(
    name="Alice Example", line1="Kade 1", city="Utrecht", postal_code="3511 AA", country="NL"
)
V2_DATA = {
    "order_id": ORDER,
    "customer_id": "alice",
    "lines": [
        {"sku": "SKU-TEA-001", "name": "Green tea", "quantity": 2, "unit_price": 1250, "line_total": 2500}
    ],
    "total": 2995,
    "destination_country": "NL",
    "placed_at": AT,
}
CONFIRMED = published(
    "OrderConfirmed", {"order_id": ORDER, "payment_id": "p", "confirmed_at": AT}, event_id="e-2"
)


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
def CREATED(vault: InMemoryVault) -> PublishedEvent:
    sealed = vault.key_for("alice").seal(PersonalDetails(shipping_address=ADDRESS).model_dump(mode="json"))
    return published(
        "OrderCreated", V2_DATA | {"personal": sealed.model_dump(mode="json")}, event_id="e-1", version=3
    )


def status(service: ShippingService) -> ShipmentStatus:
    shipment = service.runner.load(SHIPMENT).state
    assert shipment is not None
    return shipment.status


class TestFollowingTheOrder:
    def test_a_placed_then_confirmed_order_is_ready_to_ship_and_redeliveries_change_nothing(
        self, service, CREATED
    ):
        assert service.react(CREATED) == "planned"
        assert service.react(CONFIRMED) == "ready to ship"
        assert service.react(CONFIRMED) == "already ready to ship"
        assert status(service) is ShipmentStatus.READY_TO_SHIP

    def test_the_v1_and_v2_shapes_of_order_created_are_read_too(self, service):
        v1 = published(
            "OrderCreated",
            {**{k: v for k, v in V2_DATA.items() if k != "destination_country"}, "country": "BE"},
            event_id="e-1",
        )
        service.react(v1)
        shipment = service.runner.load(SHIPMENT).state
        assert shipment is not None
        assert (shipment.destination_country, shipment.personal) == ("BE", None)

        other = "1f8e4c1a-3b2d-4e6f-9a7b-1c2d3e4f5a6b"
        service.react(published("OrderCreated", V2_DATA | {"order_id": other}, event_id="e-v2", version=2))
        planned = service.runner.load(shipment_id_for(other)).state
        assert planned is not None
        assert (planned.customer_id, planned.personal) == ("alice", None)

    def test_a_cancellation_before_dispatch_cancels_and_after_it_asks_for_a_return(self, service, CREATED):
        service.react(CREATED)
        service.react(CONFIRMED)
        cancel = published(
            "OrderCancelled",
            {"order_id": ORDER, "reason": "customer_request", "cancelled_at": AT},
            event_id="e-3",
        )
        service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        assert "arrange a return" in service.react(cancel)
        assert status(service) is ShipmentStatus.DISPATCHED

    def test_every_order_event_type_is_either_acted_on_or_ignored_explicitly(self):
        published_types = {
            e.event_type()
            for e in (OrderCreated, OrderConfirmed, OrderCancelled, OrderShipped, OrderDelivered)
        }
        assert published_types == set(ORDER_EVENTS.handled) | ORDER_EVENTS.ignored

    def test_an_unknown_order_event_is_refused(self, service):
        with pytest.raises(UnexpectedEventError):
            service.react(published("OrderTeleported", {"order_id": ORDER}, event_id="e-9"))


class TestStaff:
    def test_dispatch_is_idempotent_by_key_and_refused_with_another_tracking_number(self, service, CREATED):
        service.react(CREATED)
        service.react(CONFIRMED)
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
        self, service, labels, CREATED
    ):
        service.react(CREATED)
        service.react(CONFIRMED)
        answer = service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        assert labels.printed == [SHIPMENT]
        assert ADDRESS.line1 not in answer.shipment.model_dump_json()

    def test_an_address_erased_after_confirmation_is_refused_at_dispatch_and_the_shipment_held(
        self, service, vault, labels, CREATED
    ):
        service.react(CREATED)
        service.react(CONFIRMED)
        vault.erase("alice")
        for _ in range(2):  # staff try again: the same refusal, held once
            with pytest.raises(ShipmentAddressErasedError, match="erased"):
                service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        assert (labels.printed, status(service)) == ([], ShipmentStatus.UNDELIVERABLE)
        events = [e.event_type for c in service.runner.store.read(f"Shipment-{SHIPMENT}") for e in c.events]
        assert events == ["ShipmentPlanned", "ShipmentReady", "ShipmentUndeliverable"]

    def test_an_address_erased_while_the_order_was_in_flight_holds_it_when_confirmed(
        self, service, vault, CREATED
    ):
        service.react(CREATED)
        vault.erase("alice")
        assert service.react(CONFIRMED) == "held: address erased"
        assert status(service) is ShipmentStatus.UNDELIVERABLE

    def test_an_order_placed_without_an_address_cannot_be_shipped(self, service):
        service.react(published("OrderCreated", V2_DATA, event_id="e-1", version=2))
        service.react(CONFIRMED)
        with pytest.raises(ShipmentAddressMissingError, match="without a shipping address"):
            service.dispatch(SHIPMENT, "PostNL", "TR-1", idempotency_key=None, correlation_id=None)
        assert status(service) is ShipmentStatus.READY_TO_SHIP
