"""The order fulfillment process manager's decisions, pure: which order command a payment outcome calls for,
and how queued order commands are read back. Orders knows payments only through its published events, read
here with just the fields needed and the schema versions understood (anything else is parked)."""

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from microsystem.messages import CommandMessage, InboundEvents, MalformedMessageError
from orders.commands import CancelOrder, ConfirmOrder


class _Inbound(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PaymentAuthorized(_Inbound):
    """Schema version 1, with only the fields orders reads."""

    payment_id: str
    order_id: str
    authorized_at: AwareDatetime


class PaymentDeclined(_Inbound):
    """Schema version 1, with only the fields orders reads."""

    payment_id: str
    order_id: str
    declined_at: AwareDatetime


# Every payment event type is named here: the outcomes orders acts on (with the schema versions it reads),
# and the ones that need nothing from orders (the request, and the void that follows a cancellation). Any
# other type, or another schema version, is parked.
PaymentOutcome = PaymentAuthorized | PaymentDeclined
PAYMENT_EVENTS: InboundEvents[PaymentOutcome] = InboundEvents(
    "payment",
    handled={
        "PaymentAuthorized": (frozenset({1}), PaymentAuthorized),
        "PaymentDeclined": (frozenset({1}), PaymentDeclined),
    },
    ignored=frozenset({"PaymentRequested", "PaymentVoided"}),
)

# The order commands other services may queue, by the `command_type` of their message.
QUEUED_COMMANDS: dict[str, type[ConfirmOrder | CancelOrder]] = {
    "ConfirmOrder": ConfirmOrder,
    "CancelOrder": CancelOrder,
}


def command_for_payment(
    event_type: str, schema_version: int, data: dict[str, Any]
) -> ConfirmOrder | CancelOrder | None:
    """The order command a payment event calls for; None for payment events orders ignores."""
    outcome = PAYMENT_EVENTS.read(event_type, schema_version, data)
    match outcome:
        case None:
            return None
        case PaymentAuthorized() as paid:
            return ConfirmOrder(order_id=paid.order_id, payment_id=paid.payment_id, at=paid.authorized_at)
        case PaymentDeclined() as failed:
            return CancelOrder(
                order_id=failed.order_id, reason="payment_declined", requested_by=None, at=failed.declined_at
            )
    raise TypeError(f"unhandled payment outcome {outcome!r}")


def command_message(
    command: ConfirmOrder | CancelOrder, *, cause_id: str, correlation_id: str | None
) -> CommandMessage:
    """The queued form of `command`. Its id derives from the causing event, so a redelivered event sends the
    same command, which SQS deduplicates and the Order's log recognises."""
    command_type = type(command).__name__
    return CommandMessage(
        command_type=command_type,
        command_id=f"{command_type}:{cause_id}",
        payload=command.model_dump(mode="json"),
        correlation_id=correlation_id,
        causation_id=cause_id,
    )


def read_queued_command(message: CommandMessage) -> ConfirmOrder | CancelOrder:
    model = QUEUED_COMMANDS.get(message.command_type)
    if model is None:
        raise MalformedMessageError(
            f"unknown command type {message.command_type!r}; queued order commands: {sorted(QUEUED_COMMANDS)}"
        )
    try:
        return model.model_validate(message.payload)
    except ValidationError as error:
        raise MalformedMessageError(f"{message.command_type} payload is invalid: {error}") from error
