"""The payments application service: what payments does when it is asked to authorise an order's payment
or to void it. It runs the Payment decider through the core's runner and calls the provider port; the
function around it only parses messages. Every command id derives from the queued command's id, so a
redelivered message writes nothing new and charges nothing twice.

One service serves several threads at once (the consumer handles a batch's orders concurrently, each order's
commands in order): it keeps no state of its own between calls; its runner's memory image is locked, and two
threads on one payment are resolved by the log's conditional write like two containers; the provider
adapter must be thread-safe (the fake locks its ledger)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eventcore.write.command_ids import Cause, derived_id, react
from payments.commands import (
    AuthorizePayment,
    CapturePayment,
    DeclinePayment,
    FailCapture,
    RecordRefund,
    RequestPayment,
    RequestRefund,
    VoidPayment,
)
from payments.errors import PaymentAlreadySettledError, PaymentNotCapturableError
from payments.payment import Payment, PaymentStatus, payment_id_for
from payments.provider import (
    Approved,
    AuthorizationRequest,
    Captured,
    CaptureRequest,
    PaymentProvider,
    Refunded,
    RefundRequest,
)
from payments.queued import PaymentCapture, PaymentRefund, PaymentRequest, PaymentVoid, read_queued_command

if TYPE_CHECKING:
    from collections.abc import Callable

    from eventcore import CommandResult, DeciderRunner
    from eventcore.messaging.inbound import CommandMessage
    from payments.commands import PaymentCommand


def card_on_file(customer_id: str) -> str:
    """The customer's card on file at the provider, for an order placed without a payment method (before
    checkout took one): the provider keeps it under our customer id (as a provider's customer object does)."""
    return customer_id


def capture_key(payment_id: str) -> str:
    """The provider's idempotency key of a payment's one capture."""
    return f"{payment_id}:capture"


def refund_key(payment_id: str, refund_id: str) -> str:
    """The provider's idempotency key of one refund: the same for every retry of it."""
    return derived_id("refund", payment_id, refund_id)


class PaymentService:
    def __init__(
        self,
        runner: DeciderRunner[PaymentCommand, Payment | None],
        provider: PaymentProvider,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.runner = runner
        self.provider = provider
        self._clock = clock

    def apply_queued(self, message: CommandMessage) -> str:
        """Apply one queued command; return what was done, for the log. Raises on anything that must be
        retried (provider unavailable, contention) or parked (an unreadable message)."""
        cause = Cause.of_queued(message)
        match read_queued_command(message):
            case PaymentRequest() as request:
                return self.authorize(request, cause)
            case PaymentVoid() as void:
                return self.void(void, cause)
            case PaymentCapture() as capture:
                return self.capture(capture, cause)
            case PaymentRefund() as refund:
                return self.refund(refund, cause)

    def authorize(self, request: PaymentRequest, cause: Cause) -> str:
        payment_id = payment_id_for(request.order_id)
        requested = RequestPayment(
            payment_id=payment_id,
            order_id=request.order_id,
            customer_id=request.customer_id,
            amount=request.amount,
            currency=request.currency,
            card_token=request.payment_method or card_on_file(request.customer_id),
            at=self._clock(),
        )
        payment = self._apply(payment_id, requested, cause).state
        if payment is None or payment.status is not PaymentStatus.REQUESTED:
            # Already settled by an earlier delivery, or voided before it arrived: never call the provider.
            return f"payment already {payment.status.value if payment else 'absent'}"
        # A retry after a crash right here calls the provider again with the same key: the provider answers
        # with its first result, so the card is charged at most once.
        answer = self.provider.authorize(
            AuthorizationRequest(
                idempotency_key=payment_id,
                amount=requested.amount,
                currency=requested.currency,
                card_token=requested.card_token,
                reference=request.order_id,
            )
        )
        outcome: AuthorizePayment | DeclinePayment
        if isinstance(answer, Approved):
            outcome = AuthorizePayment(
                payment_id=payment_id, authorization_id=answer.authorization_id, at=self._clock()
            )
        else:
            outcome = DeclinePayment(payment_id=payment_id, reason=answer.reason, at=self._clock())
        try:
            self._apply(payment_id, outcome, cause)
        except PaymentAlreadySettledError:
            # Voided while the provider was answering: make sure the late authorisation is released too.
            self.provider.void(idempotency_key=payment_id)
            raise
        return "authorized" if isinstance(outcome, AuthorizePayment) else "declined"

    def void(self, void: PaymentVoid, cause: Cause) -> str:
        payment_id = payment_id_for(void.order_id)
        payment = self.runner.load(payment_id).state
        if payment is not None and payment.status in (
            PaymentStatus.DECLINED,
            PaymentStatus.VOIDED,
            PaymentStatus.CAPTURED,
            PaymentStatus.CAPTURE_FAILED,
        ):
            return f"nothing to void: payment {payment.status.value}"
        # Release at the provider first, then record it: PaymentVoided states a fact, never an intention. The
        # void is idempotent, so a retry after a crash between the two steps is harmless.
        self.provider.void(idempotency_key=payment_id)
        self._apply(
            payment_id,
            VoidPayment(payment_id=payment_id, order_id=void.order_id, reason=void.reason, at=self._clock()),
            cause,
        )
        return "voided"

    def capture(self, capture: PaymentCapture, cause: Cause) -> str:
        """Take what shipped from the authorisation, once: the provider's idempotency key is the payment's,
        so a retry after a crash (or while the provider is unavailable) never takes it twice."""
        payment_id = payment_id_for(capture.order_id)
        payment = self.runner.load(payment_id).state
        if payment is not None and payment.status in (PaymentStatus.CAPTURED, PaymentStatus.CAPTURE_FAILED):
            return f"already {payment.status.value}"
        if payment is None or payment.status is not PaymentStatus.AUTHORIZED:
            raise PaymentNotCapturableError(payment_id, payment.status.value if payment else "not requested")
        answer = self.provider.capture(
            CaptureRequest(
                idempotency_key=capture_key(payment_id), authorization_key=payment_id, amount=capture.amount
            )
        )
        if isinstance(answer, Captured):
            command: CapturePayment | FailCapture = CapturePayment(
                payment_id=payment_id, amount=capture.amount, capture_id=answer.capture_id, at=self._clock()
            )
        else:
            command = FailCapture(payment_id=payment_id, reason=answer.reason[:200], at=self._clock())
        self._apply(payment_id, command, cause)
        return "captured" if isinstance(command, CapturePayment) else "capture_failed"

    def refund(self, refund: PaymentRefund, cause: Cause) -> str:
        """Record the refund first (the payment refuses one above what is left of the capture, whatever
        order concurrent refunds arrive in), then make it at the provider under its own idempotency key,
        then record that it was made. A retry while the provider is unavailable finds the request recorded
        and calls again with the same key: the money goes back once."""
        payment_id = payment_id_for(refund.order_id)
        requested = RequestRefund(
            payment_id=payment_id, refund_id=refund.refund_id, amount=refund.amount, at=self._clock()
        )
        payment = self._apply(payment_id, requested, cause).state
        assert payment is not None  # a refund is requested of a captured payment, or refused above
        made = payment.refunds[refund.refund_id]  # recorded now, or by the request before (a retry)
        if made.provider_refund_id is not None:
            return "already refunded"
        answer = self.provider.refund(
            RefundRequest(
                idempotency_key=refund_key(payment_id, refund.refund_id),
                authorization_key=payment_id,
                amount=made.amount,
            )
        )
        if not isinstance(answer, Refunded):
            # Only a provider out of step with our log refuses what the payment accepted: a person looks.
            raise PaymentAlreadySettledError(
                payment_id, f"refused by the provider ({answer.reason})", "refunded"
            )
        self._apply(
            payment_id,
            RecordRefund(
                payment_id=payment_id,
                refund_id=refund.refund_id,
                provider_refund_id=answer.refund_id,
                at=self._clock(),
            ),
            cause,
        )
        return "refunded"

    def _apply(self, payment_id: str, command: PaymentCommand, cause: Cause) -> CommandResult[Payment | None]:
        return react(self.runner, payment_id, command, cause)
