"""The carrier's label, as a port: dispatching a parcel hands its address to the carrier. The address is
opened for this moment only, never logged, returned or stored in clear. `DiscardingLabelPrinter` is the
default adapter (no carrier integration yet): it counts the labels and keeps nothing of the address."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class LabelPrinter(Protocol):
    def print_label(
        self, shipment_id: str, carrier: str, tracking_number: str, address: dict[str, Any]
    ) -> None:
        """Hand the parcel's address to the carrier under its tracking number; raise to refuse."""
        ...


@dataclass
class DiscardingLabelPrinter:
    printed: list[str] = field(default_factory=list)  # the shipment ids labelled: nothing personal

    def print_label(
        self, shipment_id: str, carrier: str, tracking_number: str, address: dict[str, Any]
    ) -> None:
        self.printed.append(shipment_id)
