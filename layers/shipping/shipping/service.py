"""The shipping application service: what shipping does when orders publish that an order was placed,
confirmed or cancelled, and when warehouse staff dispatch or deliver a parcel. It derives shipment ids and
command ids and runs the Shipment decider through the core's runner; the functions around it only parse
records and requests."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eventcore.personal_data import PersonalDataErasedError
from eventcore.write.command_ids import Cause, command_fingerprint, derived_id, react
from shipping.commands import (
    CancelShipment,
    DeliverShipment,
    DispatchShipment,
    HoldUndeliverable,
    MarkReady,
    PlanShipment,
    ShipmentLine,
)
from shipping.errors import (
    ShipmentAddressErasedError,
    ShipmentAddressMissingError,
    ShipmentAlreadyLeftError,
    ShipmentNotFoundError,
)
from shipping.inbound import ORDER_EVENTS, OrderCancelled, OrderConfirmed, OrderCreated
from shipping.labels import DiscardingLabelPrinter
from shipping.shipment import ShipmentStatus, shipment_id_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from eventcore import CommandResult, DeciderRunner
    from eventcore.messaging.inbound import PublishedEvent
    from eventcore.personal_data import Vault
    from shipping.commands import ShipmentCommand
    from shipping.labels import LabelPrinter
    from shipping.shipment import Shipment

# Shipment ids as shipping hands them out (UUIDs): anything else names no shipment and is refused before it
# reaches DynamoDB, where an oversized key would be a server error, not a 404.
SHIPMENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class ShipmentAnswer:
    shipment: Shipment
    version: int
    recorded: int
    replayed: bool


class ShippingService:
    def __init__(
        self,
        runner: DeciderRunner[ShipmentCommand, Shipment | None],
        *,
        vault: Vault,
        labels: LabelPrinter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        """`vault` opens the address: to check it is still there when the order is confirmed, and at dispatch
        for `labels` (the carrier's label)."""
        self.runner = runner
        self.vault = vault
        self.labels = labels or DiscardingLabelPrinter()
        self._clock = clock
        self._new_id = new_id

    def react(self, event: PublishedEvent) -> str:
        """React to one published order event; return what was done, for the log. Raises on anything to
        retry (contention) or to park (an unknown type or schema version)."""
        cause = Cause.of(event)
        match ORDER_EVENTS.read(event.event_type, event.schema_version, event.data):
            case OrderCreated() as created:
                lines = tuple(
                    ShipmentLine(sku=line.sku, name=line.name, quantity=line.quantity)
                    for line in created.lines
                )
                plan = PlanShipment(
                    shipment_id=shipment_id_for(created.order_id),
                    order_id=created.order_id,
                    customer_id=created.customer_id,
                    lines=lines,
                    destination_country=created.destination_country,
                    personal=created.personal,
                    at=created.placed_at,
                )
                return self._outcome(react(self.runner, plan.shipment_id, plan, cause), "planned")
            case OrderConfirmed() as confirmed:
                shipment_id = shipment_id_for(confirmed.order_id)
                if self._address_erased(self.runner.load(shipment_id).state):
                    # Erased while the order was in flight: nothing to pick, the order is to be cancelled.
                    hold = HoldUndeliverable(
                        shipment_id=shipment_id, reason="address_erased", at=confirmed.confirmed_at
                    )
                    return self._outcome(react(self.runner, shipment_id, hold, cause), "held: address erased")
                ready = MarkReady(shipment_id=shipment_id, at=confirmed.confirmed_at)
                return self._outcome(react(self.runner, shipment_id, ready, cause), "ready to ship")
            case OrderCancelled() as cancelled:
                cancel = CancelShipment(
                    shipment_id=shipment_id_for(cancelled.order_id),
                    reason=cancelled.reason,
                    at=cancelled.cancelled_at,
                )
                try:
                    return self._outcome(react(self.runner, cancel.shipment_id, cancel, cause), "cancelled")
                except ShipmentAlreadyLeftError:
                    # Cancelled after the parcel left: no retry changes that; a person arranges a return.
                    return "cancellation after dispatch: arrange a return"
                except ShipmentNotFoundError:
                    return "nothing to cancel: never planned"
        return "ignored"

    def dispatch(
        self,
        shipment_id: str,
        carrier: str,
        tracking_number: str,
        *,
        idempotency_key: str | None,
        correlation_id: str | None,
    ) -> ShipmentAnswer:
        """Dispatch the parcel: its address is opened for the carrier's label, never returned nor stored in
        clear. Refused when the order has no address; when the customer's personal data was erased, the
        shipment is held as undeliverable (its order is then cancelled) and the dispatch refused."""
        _require_shipment_id(shipment_id)  # before the command's own checks: an odd id is simply not found
        command = DispatchShipment(
            shipment_id=shipment_id, carrier=carrier, tracking_number=tracking_number, at=self._clock()
        )
        shipment = self.runner.load(shipment_id).state
        if shipment is not None and shipment.status is ShipmentStatus.READY_TO_SHIP:
            address = self._address(shipment)
            if address is None:
                self._hold(shipment, correlation_id)
                raise ShipmentAddressErasedError(shipment_id)
            self.labels.print_label(shipment_id, carrier, tracking_number, address)
        return self._staff(command, idempotency_key, correlation_id)

    def _address(self, shipment: Shipment) -> dict[str, Any] | None:
        """The shipment's address, opened; None when it was erased."""
        if shipment.personal is None:
            raise ShipmentAddressMissingError(shipment.shipment_id)
        try:
            opened = self.vault.open(shipment.customer_id, shipment.personal)
        except PersonalDataErasedError:
            return None
        return dict(opened["shipping_address"])

    def _address_erased(self, shipment: Shipment | None) -> bool:
        if shipment is None or shipment.personal is None:
            return False  # nothing to plan yet (the runner refuses), or an order from before addresses
        try:
            self.vault.open(shipment.customer_id, shipment.personal)
        except PersonalDataErasedError:
            return True
        return False

    def _hold(self, shipment: Shipment, correlation_id: str | None) -> None:
        hold = HoldUndeliverable(shipment_id=shipment.shipment_id, reason="address_erased", at=self._clock())
        self.runner.handle(
            shipment.shipment_id,
            hold,
            command_id=derived_id("HoldUndeliverable", shipment.shipment_id),  # once per shipment
            fingerprint=command_fingerprint(hold),
            correlation_id=correlation_id,
        )

    def deliver(
        self, shipment_id: str, *, idempotency_key: str | None, correlation_id: str | None
    ) -> ShipmentAnswer:
        _require_shipment_id(shipment_id)
        return self._staff(
            DeliverShipment(shipment_id=shipment_id, at=self._clock()), idempotency_key, correlation_id
        )

    def _staff(
        self,
        command: DispatchShipment | DeliverShipment,
        idempotency_key: str | None,
        correlation_id: str | None,
    ) -> ShipmentAnswer:
        result = self.runner.handle(
            command.shipment_id,
            command,
            command_id=derived_id(
                type(command).__name__, command.shipment_id, idempotency_key or self._new_id()
            ),
            fingerprint=command_fingerprint(command),
            correlation_id=correlation_id,
        )
        assert result.state is not None  # a command on a shipment never planned is refused by the decider
        return ShipmentAnswer(result.state, result.version, len(result.events), result.duplicate)

    @staticmethod
    def _outcome(result: CommandResult[Shipment | None], done: str) -> str:
        if result.duplicate:
            return f"already {done}"
        return (
            done
            if result.events
            else f"nothing to do: {result.state.status.value if result.state else 'absent'}"
        )


def _require_shipment_id(value: str) -> None:
    if SHIPMENT_ID.fullmatch(value) is None:
        raise ShipmentNotFoundError(value)
