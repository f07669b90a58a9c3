"""What the order-fulfillment process may ask of the warehouse through the inventory-commands queue: the
inventory context's public command contract (docs/event-catalogue.md), by the `command_type` of the message.
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


QUEUED_COMMANDS: QueuedCommands[ReservePayload | ReleasePayload | CommitPayload] = QueuedCommands(
    "inventory",
    {
        "ReserveStock": ReservePayload,
        "ReleaseStock": ReleasePayload,
        "CommitStock": CommitPayload,
    },
)

read_queued_command = QUEUED_COMMANDS.read
