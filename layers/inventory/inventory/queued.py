"""What the order-fulfillment process may ask of the warehouse (reservations, releases, commitments, and
receipts of returned goods) through the inventory-commands queue: the inventory context's public command
contract (docs/event-catalogue.md), by the `command_type` of the message.
A message it cannot read is parked, never guessed at."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from eventcore.messaging.inbound import QueuedCommands
from inventory.commands import Sku


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sku: Sku
    order_id: Annotated[str, Field(min_length=1, max_length=128)]


class ReservePayload(_Payload):
    quantity: Annotated[int, Field(gt=0, le=1_000_000)]
    expires_at: AwareDatetime


class ReleasePayload(_Payload):
    reason: Annotated[str, Field(min_length=1, max_length=64)]


class CommitPayload(_Payload):
    pass


class ReceivePayload(_Payload):
    """`ReceiveStock`: units of an order came back fit to sell (a return): `receipt_id` names the receipt,
    once however often it comes. Received into the order's home bucket, like the order's other commands."""

    receipt_id: Annotated[str, Field(min_length=1, max_length=128)]
    quantity: Annotated[int, Field(gt=0, le=1_000_000)]


QueuedStockCommand = ReservePayload | ReleasePayload | CommitPayload | ReceivePayload

QUEUED_COMMANDS: QueuedCommands[QueuedStockCommand] = QueuedCommands(
    "inventory",
    {
        "ReserveStock": ReservePayload,
        "ReleaseStock": ReleasePayload,
        "CommitStock": CommitPayload,
        "ReceiveStock": ReceivePayload,
    },
)

read_queued_command = QUEUED_COMMANDS.read
