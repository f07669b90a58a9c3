"""The payments application service: what payments does when an order is placed or cancelled. It runs the
Payment decider through the core's runner and calls the provider port; the function around it only parses
records. Every command id derives from the causing event's id, so a redelivered event writes nothing new."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from microsystem.commands import Cause, react
from payments.commands import AuthorizePayment, DeclinePayment, RequestPayment, VoidPayment
from payments.errors import PaymentAlreadySettledError
from payments.inbound import OrderCancelled, OrderCreated, read_order_event
from payments.payment import Payment, PaymentStatus, payment_id_for
from payments.provider import Approved, AuthorizationRequest, PaymentProvider

if TYPE_CHECKING:
    from collections.abc import Callable

    from microsystem import CommandResult, DeciderRunner
    from microsystem.messages import PublishedEvent
    from payments.commands import PaymentCommand


def card_on_file(customer_id: str) -> str:
    """The customer's card on file at the provider. Checkout does not collect cards yet, so the provider keeps
    the card under our customer id (as a provider's customer object does)."""
    return customer_id


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

    def handle(self, event: PublishedEvent) -> str:
        """React to one published order event; return what was done, for the log. Raises on anything that
        must be retried (provider unavailable, contention) or parked (unexpected event)."""
        match read_order_event(event.event_type, event.schema_version, event.data):
            case OrderCreated() as order:
                return self.order_placed(order, event)
            case OrderCancelled() as cancellation:
                return self.order_cancelled(cancellation, event)
            case _:
                return "ignored"

    def order_placed(self, order: OrderCreated, event: PublishedEvent) -> str:
        payment_id = payment_id_for(order.order_id)
        request = RequestPayment(
            payment_id=payment_id,
            order_id=order.order_id,
            customer_id=order.customer_id,
            amount=order.total,
            currency=order.currency,
            card_token=card_on_file(order.customer_id),
            at=order.placed_at,
        )
        payment = self._apply(payment_id, request, event).state
        if payment is None or payment.status is not PaymentStatus.REQUESTED:
            # Already settled by an earlier delivery, or voided before it arrived: never call the provider.
            return f"payment already {payment.status.value if payment else 'absent'}"
        # A retry after a crash right here calls the provider again with the same key: the provider answers
        # with its first result, so the card is charged at most once.
        answer = self.provider.authorize(
            AuthorizationRequest(
                idempotency_key=payment_id,
                amount=request.amount,
                currency=request.currency,
                card_token=request.card_token,
                reference=order.order_id,
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
            self._apply(payment_id, outcome, event)
        except PaymentAlreadySettledError:
            # Voided while the provider was answering: make sure the late authorisation is released too.
            self.provider.void(idempotency_key=payment_id)
            raise
        return "authorized" if isinstance(outcome, AuthorizePayment) else "declined"

    def order_cancelled(self, cancellation: OrderCancelled, event: PublishedEvent) -> str:
        payment_id = payment_id_for(cancellation.order_id)
        payment = self.runner.load(payment_id).state
        if payment is not None and payment.status in (PaymentStatus.DECLINED, PaymentStatus.VOIDED):
            return f"nothing to void: payment {payment.status.value}"
        # Release at the provider first, then record it: PaymentVoided states a fact, never an intention. The
        # void is idempotent, so a retry after a crash between the two steps is harmless.
        self.provider.void(idempotency_key=payment_id)
        self._apply(
            payment_id,
            VoidPayment(
                payment_id=payment_id,
                order_id=cancellation.order_id,
                reason=f"order cancelled: {cancellation.reason}",
                at=cancellation.cancelled_at,
            ),
            event,
        )
        return "voided"

    def _apply(
        self, payment_id: str, command: PaymentCommand, event: PublishedEvent
    ) -> CommandResult[Payment | None]:
        return react(self.runner, payment_id, command, Cause.of(event))
