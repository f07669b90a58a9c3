"""What the order-fulfillment process may ask of the warehouse through the inventory-commands queue: the
inventory context's public command contract (docs/event-catalogue.md), by the `command_type` of the message.
A message it cannot read is parked, never guessed at."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from eventcore.messaging.inbound import MalformedMessageError
from eventcore.validation import summary
from inventory.commands import Sku

if TYPE_CHECKING:
    from eventcore.messaging.inbound import CommandMessage


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


QUEUED_COMMANDS: dict[str, type[_Payload]] = {
    "ReserveStock": ReservePayload,
    "ReleaseStock": ReleasePayload,
    "CommitStock": CommitPayload,
}


def read_queued_command(message: CommandMessage) -> ReservePayload | ReleasePayload | CommitPayload:
    model = QUEUED_COMMANDS.get(message.command_type)
    if model is None:
        known = sorted(QUEUED_COMMANDS)
        raise MalformedMessageError(f"unknown command type {message.command_type!r}; known: {known}")
    try:
        payload = model.model_validate(message.payload)
    except ValidationError as error:
        raise MalformedMessageError(f"{message.command_type} payload: {summary(error.errors())}") from error
    assert isinstance(payload, ReservePayload | ReleasePayload | CommitPayload)
    return payload
