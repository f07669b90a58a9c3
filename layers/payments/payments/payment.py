"""The Payment aggregate as a decider: its state and `evolve`, then `decide`. One payment per order, its id
derived from the order id, so every delivery of an order's events lands on the same stream. Pure: the time
and the provider's answer arrive with the command."""

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from eventcore import Decider, Event, EventNotApplicableError
from payments.commands import (
    AuthorizePayment,
    CapturePayment,
    DeclinePayment,
    FailCapture,
    PaymentCommand,
    RecordRefund,
    RequestPayment,
    RequestRefund,
    VoidPayment,
)
from payments.errors import (
    PaymentAlreadySettledError,
    PaymentNotCapturableError,
    PaymentNotRequestedError,
    PaymentRequestMismatchError,
    RefundAboveCaptureError,
    RefundMismatchError,
)
from payments.events import (
    PaymentAuthorized,
    PaymentCaptured,
    PaymentCaptureFailed,
    PaymentDeclined,
    PaymentRefunded,
    PaymentRefundRequested,
    PaymentRequested,
    PaymentVoided,
    payment_events,
)

# Fixed forever: changing it would give every existing order a second payment id.
PAYMENT_ID_NAMESPACE = uuid.UUID("0b6c3f8e-51a4-4f7d-9c0e-7a2d4b1e9f35")


def payment_id_for(order_id: str) -> str:
    """The one payment of an order: the same id for every delivery of the order's events."""
    return str(uuid.uuid5(PAYMENT_ID_NAMESPACE, order_id))


# -- state ---------------------------------------------------------------------------------------------------


class PaymentStatus(StrEnum):
    REQUESTED = "requested"
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    VOIDED = "voided"
    CAPTURED = "captured"  # refunds, whole or partial, keep it captured: `refunded` says how much went back
    CAPTURE_FAILED = "capture_failed"


class Refund(BaseModel):
    """One refund of a captured payment: requested (the provider still to answer), or made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int
    provider_refund_id: str | None = None  # None while the provider has not answered


class Payment(BaseModel):
    """A payment that has been requested (or voided before its request arrived). Before that, None."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payment_id: str
    order_id: str
    status: PaymentStatus
    customer_id: str | None = None
    amount: int = 0
    currency: str | None = None
    card_token: str | None = None
    authorization_id: str | None = None
    decline_reason: str | None = None
    void_reason: str | None = None
    captured: int = 0
    capture_id: str | None = None
    capture_failure: str | None = None
    refunds: dict[str, Refund] = {}
    updated_at: AwareDatetime

    @property
    def refunded(self) -> int:
        """What the provider has given back."""
        return sum(r.amount for r in self.refunds.values() if r.provider_refund_id is not None)

    @property
    def refundable(self) -> int:
        """What is left to refund: the capture less every refund requested or made."""
        return self.captured - sum(r.amount for r in self.refunds.values())


def evolve(state: Payment | None, event: Event) -> Payment | None:
    match state, event:
        case None, PaymentRequested() as requested:
            return Payment(
                payment_id=requested.payment_id,
                order_id=requested.order_id,
                status=PaymentStatus.REQUESTED,
                customer_id=requested.customer_id,
                amount=requested.amount,
                currency=requested.currency,
                card_token=requested.card_token,
                updated_at=requested.requested_at,
            )
        case Payment() as payment, PaymentAuthorized() as authorized:
            return payment.model_copy(
                update={
                    "status": PaymentStatus.AUTHORIZED,
                    "authorization_id": authorized.authorization_id,
                    "updated_at": authorized.authorized_at,
                }
            )
        case Payment() as payment, PaymentDeclined() as declined:
            return payment.model_copy(
                update={
                    "status": PaymentStatus.DECLINED,
                    "decline_reason": declined.reason,
                    "updated_at": declined.declined_at,
                }
            )
        case None, PaymentVoided() as voided:
            return Payment(
                payment_id=voided.payment_id,
                order_id=voided.order_id,
                status=PaymentStatus.VOIDED,
                void_reason=voided.reason,
                updated_at=voided.voided_at,
            )
        case Payment() as payment, PaymentVoided() as voided:
            return payment.model_copy(
                update={
                    "status": PaymentStatus.VOIDED,
                    "void_reason": voided.reason,
                    "updated_at": voided.voided_at,
                }
            )
        case Payment() as payment, PaymentCaptured() as captured:
            return payment.model_copy(
                update={
                    "status": PaymentStatus.CAPTURED,
                    "captured": captured.amount,
                    "capture_id": captured.capture_id,
                    "updated_at": captured.captured_at,
                }
            )
        case Payment() as payment, PaymentCaptureFailed() as failed:
            return payment.model_copy(
                update={
                    "status": PaymentStatus.CAPTURE_FAILED,
                    "capture_failure": failed.reason,
                    "updated_at": failed.failed_at,
                }
            )
        case Payment() as payment, PaymentRefundRequested() as requested:
            refunds = {**payment.refunds, requested.refund_id: Refund(amount=requested.amount)}
            return payment.model_copy(update={"refunds": refunds, "updated_at": requested.requested_at})
        case Payment() as payment, PaymentRefunded() as refunded:
            made = Refund(amount=refunded.amount, provider_refund_id=refunded.provider_refund_id)
            refunds = {**payment.refunds, refunded.refund_id: made}
            return payment.model_copy(update={"refunds": refunds, "updated_at": refunded.refunded_at})
    # Only a damaged or misrouted stream gets here (a second request, a change before the request).
    raise EventNotApplicableError(event, state)


# -- decisions -----------------------------------------------------------------------------------------------


def decide(command: PaymentCommand, state: Payment | None) -> list[Event]:
    match command, state:
        case RequestPayment() as request, None:
            return [
                PaymentRequested(
                    payment_id=request.payment_id,
                    order_id=request.order_id,
                    customer_id=request.customer_id,
                    amount=request.amount,
                    currency=request.currency,
                    card_token=request.card_token,
                    requested_at=request.at,
                )
            ]
        case RequestPayment(), Payment(status=PaymentStatus.VOIDED):
            return []  # the order was cancelled before its payment was requested: nothing left to pay for
        case RequestPayment() as request, Payment() as payment:
            if (request.amount, request.currency, request.card_token) != (
                payment.amount,
                payment.currency,
                payment.card_token,
            ):
                raise PaymentRequestMismatchError(payment.payment_id)
            return []  # a redelivered order: the request is already on record

        case VoidPayment() as void, None:
            # Cancelled before the request arrived: the tombstone makes a late request a no-op.
            return [
                PaymentVoided(
                    payment_id=void.payment_id,
                    order_id=void.order_id,
                    reason=void.reason,
                    authorization_id=None,
                    voided_at=void.at,
                )
            ]
        case _, None:
            raise PaymentNotRequestedError(command.payment_id)

        case AuthorizePayment() as authorize, Payment(status=PaymentStatus.REQUESTED) as payment:
            return [
                PaymentAuthorized(
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    amount=payment.amount,
                    currency=payment.currency or "",
                    authorization_id=authorize.authorization_id,
                    authorized_at=authorize.at,
                )
            ]
        case AuthorizePayment() as authorize, Payment(status=PaymentStatus.AUTHORIZED) as payment:
            if authorize.authorization_id == payment.authorization_id:
                return []
            raise PaymentAlreadySettledError(payment.payment_id, "authorized", "authorized again")
        case AuthorizePayment(), Payment() as payment:
            raise PaymentAlreadySettledError(payment.payment_id, payment.status.value, "authorized")

        case DeclinePayment() as decline, Payment(status=PaymentStatus.REQUESTED) as payment:
            return [
                PaymentDeclined(
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    reason=decline.reason,
                    declined_at=decline.at,
                )
            ]
        case DeclinePayment(), Payment(status=PaymentStatus.DECLINED):
            return []
        case DeclinePayment(), Payment() as payment:
            raise PaymentAlreadySettledError(payment.payment_id, payment.status.value, "declined")

        case VoidPayment() as void, Payment(
            status=PaymentStatus.REQUESTED | PaymentStatus.AUTHORIZED
        ) as payment:
            return [
                PaymentVoided(
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    reason=void.reason,
                    authorization_id=payment.authorization_id,
                    voided_at=void.at,
                )
            ]
        case VoidPayment(), Payment(status=PaymentStatus.DECLINED | PaymentStatus.VOIDED):
            return []  # nothing was charged, or it is already released
        case VoidPayment(), Payment(status=PaymentStatus.CAPTURED | PaymentStatus.CAPTURE_FAILED):
            return []  # the parcel left: what was taken goes back only as a refund, never a void

        case CapturePayment() as capture, Payment(status=PaymentStatus.AUTHORIZED) as payment:
            if capture.amount > payment.amount:
                raise PaymentAlreadySettledError(
                    payment.payment_id, "authorised for less", "captured in full"
                )
            return [
                PaymentCaptured(
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    amount=capture.amount,
                    currency=payment.currency or "",
                    capture_id=capture.capture_id,
                    captured_at=capture.at,
                )
            ]
        case CapturePayment() as capture, Payment(status=PaymentStatus.CAPTURED) as payment:
            if capture.capture_id == payment.capture_id:
                return []  # the same capture, recorded again after a retry
            raise PaymentAlreadySettledError(payment.payment_id, "captured", "captured again")
        case CapturePayment(), Payment() as payment:
            raise PaymentNotCapturableError(payment.payment_id, payment.status.value)

        case FailCapture() as failure, Payment(status=PaymentStatus.AUTHORIZED) as payment:
            return [
                PaymentCaptureFailed(
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    reason=failure.reason,
                    failed_at=failure.at,
                )
            ]
        case FailCapture(), Payment(status=PaymentStatus.CAPTURE_FAILED):
            return []
        case FailCapture(), Payment() as payment:
            raise PaymentNotCapturableError(payment.payment_id, payment.status.value)

        case RequestRefund() as refund, Payment(status=PaymentStatus.CAPTURED) as payment:
            if refund.refund_id in payment.refunds:
                if payment.refunds[refund.refund_id].amount != refund.amount:
                    raise RefundMismatchError(payment.payment_id, refund.refund_id)
                return []  # already requested: a redelivered command
            if refund.amount > payment.refundable:
                raise RefundAboveCaptureError(payment.payment_id, refund.amount, payment.refundable)
            return [
                PaymentRefundRequested(
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    refund_id=refund.refund_id,
                    amount=refund.amount,
                    currency=payment.currency or "",
                    requested_at=refund.at,
                )
            ]
        case RequestRefund() as refund, Payment() as payment:
            raise RefundAboveCaptureError(payment.payment_id, refund.amount, 0)  # nothing was captured

        case RecordRefund() as made, Payment() as payment:
            requested = payment.refunds.get(made.refund_id)
            if requested is None:
                raise RefundMismatchError(payment.payment_id, made.refund_id)
            if requested.provider_refund_id is not None:
                return []  # recorded already
            return [
                PaymentRefunded(
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    refund_id=made.refund_id,
                    amount=requested.amount,
                    currency=payment.currency or "",
                    provider_refund_id=made.provider_refund_id,
                    refunded_at=made.at,
                )
            ]
        case _:
            raise TypeError(f"not a payment command: {command!r}")


payment_decider: Decider[PaymentCommand, Payment | None] = Decider(
    aggregate="Payment",
    initial_state=None,
    decide=decide,
    evolve=evolve,
    registry=payment_events,
    state_type=Payment | None,
    snapshot_every=50,
)
