"""What other contexts may ask of orders through the order-commands queue: the orders context's public
command contract (docs/event-catalogue.md), by the `command_type` of the message. A message it cannot read
is parked, never guessed at."""

from __future__ import annotations

from pydantic import ValidationError

from eventcore.messaging.inbound import CommandMessage, MalformedMessageError
from eventcore.validation import summary
from orders.commands import CancelOrder, ConfirmOrder, DeliverOrder, ShipOrder

QueuedOrderCommand = ConfirmOrder | CancelOrder | ShipOrder | DeliverOrder

QUEUED_COMMANDS: dict[str, type[QueuedOrderCommand]] = {
    "ConfirmOrder": ConfirmOrder,
    "CancelOrder": CancelOrder,
    "ShipOrder": ShipOrder,
    "DeliverOrder": DeliverOrder,
}


def read_queued_command(message: CommandMessage) -> QueuedOrderCommand:
    model = QUEUED_COMMANDS.get(message.command_type)
    if model is None:
        known = sorted(QUEUED_COMMANDS)
        raise MalformedMessageError(
            f"unknown command type {message.command_type!r}; queued order commands: {known}"
        )
    try:
        return model.model_validate(message.payload)
    except ValidationError as error:
        raise MalformedMessageError(
            f"{message.command_type} payload is invalid: {summary(error.errors())}"
        ) from error
