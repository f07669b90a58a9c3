"""The shipping application service: what shipping does when the order-fulfillment process asks it to
plan, ready or cancel an order's parcel, and when warehouse staff dispatch or deliver one. It derives
shipment ids and command ids and runs the Shipment decider through the core's runner; the functions around
it only parse messages and requests."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eventcore import fingerprint
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
from shipping.labels import DiscardingLabelPrinter
from shipping.queued import (
    CancelShipmentRequest,
    MarkShipmentReadyRequest,
    PlanShipmentRequest,
    read_queued_command,
)
from shipping.shipment import ShipmentStatus, shipment_id_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from eventcore import CommandResult, DeciderRunner
    from eventcore.messaging.inbound import CommandMessage
    from eventcore.personal_data import Vault
    from shipping.commands import ShipmentCommand
    from shipping.labels import LabelPrinter
    from shipping.shipment import Shipment

# Shipment ids as shipping hands them out (UUIDs): anything else names no shipment and is refused before it
# reaches DynamoDB, where an oversized key would be a server error, not a 404.
CANCELLED_AFTER_DISPATCH = "cancellation after dispatch: arrange a return"
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

    def apply_queued(self, message: CommandMessage) -> str:
        """Apply a command the order-fulfillment process queued, idempotently by its command id; return what
        was done, for the log. Raises on anything to retry (contention, a shipment not planned yet) or to
        park (an unknown command, a payload not understood)."""
        cause = Cause.of_queued(message)
        match read_queued_command(message):
            case PlanShipmentRequest() as plan:
                command = PlanShipment(
                    shipment_id=shipment_id_for(plan.order_id),
                    order_id=plan.order_id,
                    customer_id=plan.customer_id,
                    lines=tuple(
                        ShipmentLine(sku=line.sku, name=line.name, quantity=line.quantity)
                        for line in plan.lines
                    ),
                    destination_country=plan.destination_country,
                    personal=plan.personal,
                    at=plan.at,
                )
                return self._outcome(self._apply(command, message), "planned")
            case MarkShipmentReadyRequest() as ready:
                shipment_id = shipment_id_for(ready.order_id)
                if self._address_erased(self.runner.load(shipment_id).state):
                    # Erased while the order was in flight: nothing to pick, the order is to be cancelled.
                    hold = HoldUndeliverable(shipment_id=shipment_id, reason="address_erased", at=ready.at)
                    return self._outcome(react(self.runner, shipment_id, hold, cause), "held: address erased")
                mark = MarkReady(shipment_id=shipment_id, at=ready.at)
                return self._outcome(self._apply(mark, message), "ready to ship")
            case CancelShipmentRequest() as cancelled:
                cancel = CancelShipment(
                    shipment_id=shipment_id_for(cancelled.order_id), reason=cancelled.reason, at=cancelled.at
                )
                try:
                    return self._outcome(self._apply(cancel, message), "cancelled")
                except ShipmentAlreadyLeftError:
                    # Cancelled after the parcel left: no retry changes that; a person arranges a return.
                    return CANCELLED_AFTER_DISPATCH
                except ShipmentNotFoundError:
                    return "nothing to cancel: never planned"
        raise AssertionError("unreachable: read_queued_command answers one of the queued commands")

    def _apply(self, command: ShipmentCommand, message: CommandMessage) -> CommandResult[Shipment | None]:
        return self.runner.handle(
            command.shipment_id,
            command,
            command_id=message.command_id,
            fingerprint=fingerprint(message.payload),
            correlation_id=message.correlation_id,
            causation_id=message.causation_id,
        )

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
        shipment is held as undeliverable (its order is then cancelled) and the dispatch refused.

        The label is printed after the dispatch is recorded, and again whenever this same dispatch (same
        carrier and tracking number) is asked for again: a retry under the same Idempotency-Key, or the same
        scan without one. So it is printed at least once per recorded dispatch, possibly again on a retry:
        if the printer fails, or the function ends between the record and the print, the staff's retry
        prints it (the carrier keys labels by tracking number, so a reprint replaces, never doubles, the
        parcel). A dispatch that lost a race to another one prints nothing: it is refused."""
        _require_shipment_id(shipment_id)  # before the command's own checks: an odd id is simply not found
        command = DispatchShipment(
            shipment_id=shipment_id, carrier=carrier, tracking_number=tracking_number, at=self._clock()
        )
        shipment = self.runner.load(shipment_id).state
        address = None
        if shipment is not None and shipment.status is ShipmentStatus.READY_TO_SHIP:
            address = self._address(shipment)
            if address is None:
                self._hold(shipment, correlation_id)
                raise ShipmentAddressErasedError(shipment_id)
        answer = self._staff(command, idempotency_key, correlation_id)
        dispatched = answer.shipment
        if dispatched.status is ShipmentStatus.DISPATCHED and (
            dispatched.carrier,
            dispatched.tracking_number,
        ) == (carrier, tracking_number):
            if address is None:  # dispatched before this request: a retry, whose label may never have printed
                if dispatched.personal is None:
                    return answer  # dispatched before addresses were kept: there was never a label to print
                address = self._address(dispatched)
                if address is None:  # erased since: the parcel cannot be labelled, nor should it leave
                    raise ShipmentAddressErasedError(shipment_id)
            self.labels.print_label(shipment_id, carrier, tracking_number, address)
        return answer

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
