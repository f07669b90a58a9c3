"""What other contexts may ask of payments, through the payment-commands queue: the payments context's
public command contract (docs/event-catalogue.md). Payments imports nothing from the context that asks; a
message it cannot read is parked, never guessed at."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventcore.messaging.inbound import MalformedMessageError
from eventcore.validation import summary

if TYPE_CHECKING:
    from eventcore.messaging.inbound import CommandMessage

Id = Annotated[str, Field(min_length=1, max_length=128)]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PaymentRequest(_Payload):
    """`RequestPayment`: authorise `amount` for the order on the customer's card on file."""

    order_id: Id
    customer_id: Id
    amount: Annotated[int, Field(gt=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class PaymentVoid(_Payload):
    """`VoidPayment`: the order is cancelled: release any authorisation, refuse any later one."""

    order_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=200)]


QUEUED_COMMANDS: dict[str, type[PaymentRequest | PaymentVoid]] = {
    "RequestPayment": PaymentRequest,
    "VoidPayment": PaymentVoid,
}


def read_queued_command(message: CommandMessage) -> PaymentRequest | PaymentVoid:
    model = QUEUED_COMMANDS.get(message.command_type)
    if model is None:
        known = sorted(QUEUED_COMMANDS)
        raise MalformedMessageError(f"unknown command type {message.command_type!r}; payments takes {known}")
    try:
        return model.model_validate(message.payload)
    except ValidationError as error:
        raise MalformedMessageError(f"{message.command_type} payload: {summary(error.errors())}") from error
