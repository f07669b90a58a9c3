"""What other contexts may ask of orders through the order-commands queue: the orders context's public
command contract (docs/event-catalogue.md), by the `command_type` of the message. A message it cannot read
is parked, never guessed at."""

from __future__ import annotations

from eventcore.messaging.inbound import QueuedCommands
from orders.commands import (
    CancelOrder,
    ConfirmOrder,
    DeliverOrder,
    ExpireReturn,
    FlagAuthorisationExpiring,
    RecordCapture,
    RecordReturnRefund,
    ShipOrder,
)

QueuedOrderCommand = (
    ConfirmOrder
    | CancelOrder
    | ShipOrder
    | DeliverOrder
    | RecordCapture
    | FlagAuthorisationExpiring
    | ExpireReturn
    | RecordReturnRefund
)

QUEUED_COMMANDS: QueuedCommands[QueuedOrderCommand] = QueuedCommands(
    "orders",
    {
        "ConfirmOrder": ConfirmOrder,
        "CancelOrder": CancelOrder,
        "ShipOrder": ShipOrder,
        "DeliverOrder": DeliverOrder,
        "RecordCapture": RecordCapture,
        "FlagAuthorisationExpiring": FlagAuthorisationExpiring,
        "ExpireReturn": ExpireReturn,
        "RecordReturnRefund": RecordReturnRefund,
    },
)

read_queued_command = QUEUED_COMMANDS.read
