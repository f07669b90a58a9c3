"""What other contexts may ask of payments, through the payment-commands queue: the payments context's
public command contract (docs/event-catalogue.md). Payments imports nothing from the context that asks; a
message it cannot read is parked, never guessed at."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from eventcore.messaging.inbound import QueuedCommands

Id = Annotated[str, Field(min_length=1, max_length=128)]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PaymentRequest(_Payload):
    """`RequestPayment`: authorise `amount` for the order with the payment method the order names (the
    provider's token), or the customer's card on file for an order that names none."""

    order_id: Id
    customer_id: Id
    amount: Annotated[int, Field(gt=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    payment_method: Id | None = None


class PaymentCapture(_Payload):
    """`CapturePayment`: the order's parcel left: take `amount` (what shipped) from its authorisation."""

    order_id: Id
    amount: Annotated[int, Field(gt=0)]


class PaymentRefund(_Payload):
    """`RefundPayment`: give back `amount` of the capture under `refund_id` (the return it pays back)."""

    order_id: Id
    refund_id: Id
    amount: Annotated[int, Field(gt=0)]


class PaymentVoid(_Payload):
    """`VoidPayment`: the order is cancelled: release any authorisation, refuse any later one."""

    order_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=200)]


QueuedPaymentCommand = PaymentRequest | PaymentVoid | PaymentCapture | PaymentRefund

QUEUED_COMMANDS: QueuedCommands[QueuedPaymentCommand] = QueuedCommands(
    "payments",
    {
        "RequestPayment": PaymentRequest,
        "VoidPayment": PaymentVoid,
        "CapturePayment": PaymentCapture,
        "RefundPayment": PaymentRefund,
    },
)

read_queued_command = QUEUED_COMMANDS.read
