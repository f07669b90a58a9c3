"""The orders application service: what the orders context does when a customer places or cancels an order,
and when another context queues a command for an order. It prices, derives ids and command ids, runs the
Order decider through the core's runner, and decides what a retry or a refusal means; the functions around
it only parse requests and messages and shape answers."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from eventcore import fingerprint
from eventcore.write.command_ids import derived_id
from orders.commands import CancelOrder, PlaceOrder, ReceiveReturn, RequestReturn
from orders.config import PricingConfigError
from orders.errors import OrderError, OrderNotFoundError, ReturnNotFoundError
from orders.fulfillment.outbound import FINAL_ORDER_REFUSALS
from orders.ids import is_order_id, is_return_id
from orders.pricing import PricingError, price_order
from orders.queued import read_queued_command

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from eventcore import CommandResult, DeciderRunner
    from eventcore.messaging.inbound import CommandMessage
    from eventcore.personal_data import Vault
    from orders.commands import OrderCommand
    from orders.events import ReceivedLine, ReturnLine
    from orders.order import Order, OrderReturn
    from orders.personal_details import PersonalDetails
    from orders.pricing import PricingConfig, RequestedLine

# Fixed forever: changing it would give every retried checkout a second order.
ORDER_ID_NAMESPACE = uuid.UUID("5b0f6f0e-2a4e-4e0f-9a53-6d1d3c7f2b10")
# Fixed forever: changing it would give every retried return request a second return.
RETURN_ID_NAMESPACE = uuid.UUID("c3a8e2d1-7f64-4b1e-a9d2-50e8f3b6c471")


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    """How long after delivery a customer may ask for a return (`window_seconds`, RETURN_WINDOW_SECONDS: 30
    days by default), and how long its parcel is awaited before the return expires (`receipt_seconds`,
    RETURN_RECEIPT_SECONDS: 14 days). Seconds, so a local run can try both in seconds."""

    window_seconds: int = 30 * 86_400
    receipt_seconds: int = 14 * 86_400

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> ReturnPolicy:
        defaults = cls()
        return cls(
            window_seconds=int(env.get("RETURN_WINDOW_SECONDS") or defaults.window_seconds),
            receipt_seconds=int(env.get("RETURN_RECEIPT_SECONDS") or defaults.receipt_seconds),
        )


class PricingUnavailableError(Exception):
    """The pricing configuration cannot be read or is broken: nothing new can be priced until it is fixed.
    The request may be retried later; `parameter` names what to fix."""

    def __init__(self, cause: PricingConfigError) -> None:
        super().__init__(str(cause))
        self.parameter = cause.parameter


def order_id_for(customer_id: str, idempotency_key: str) -> str:
    """The order a checkout with this idempotency key creates: the same id for every retry of it. The parts
    are JSON-encoded, so no other (customer, key) pair names the same order."""
    return str(uuid.uuid5(ORDER_ID_NAMESPACE, json.dumps([customer_id, idempotency_key])))


@dataclass(frozen=True, slots=True)
class Checkout:
    """What a customer asks for when placing an order, before it is priced."""

    lines: tuple[RequestedLine, ...]
    destination_country: str
    campaign_code: str | None = None
    personal: PersonalDetails | None = None
    payment_method: str | None = None  # the provider's token (`pm_...`); None: the customer's card on file

    def fingerprint(self, personal_digest: str | None) -> str:
        """Tells a retry from another checkout under the same key. The personal data takes part only as a
        keyed digest (`Vault.digest`): nothing linkable to it is stored in the log."""
        return fingerprint(
            {
                "lines": [line.model_dump(mode="json") for line in self.lines],
                "destination_country": self.destination_country,
                "campaign_code": self.campaign_code,
                "personal": personal_digest,
                **({"payment_method": self.payment_method} if self.payment_method else {}),
            }
        )


@dataclass(frozen=True, slots=True)
class OrderAnswer:
    """An order after a command: its state and version, how many events the command recorded (0 when it
    was already satisfied), and whether this was a retry answered from the log."""

    order: Order
    version: int
    recorded: int
    replayed: bool


@dataclass(frozen=True, slots=True)
class QueuedCommandApplied:
    """A queued command applied to its order (or found already applied: `answer.replayed`)."""

    command: OrderCommand
    answer: OrderAnswer


@dataclass(frozen=True, slots=True)
class QueuedCommandRefused:
    """A queued command the order refused finally: acknowledge it, nothing is left to do."""

    command: OrderCommand
    rejection: OrderError


QueuedOutcome = QueuedCommandApplied | QueuedCommandRefused


@dataclass(frozen=True, slots=True)
class ReturnAnswer:
    """A return after a request or a receipt: the order it belongs to, the return, and whether the command
    recorded anything or was a retry answered from the log."""

    order: Order
    version: int
    returned: OrderReturn
    recorded: int
    replayed: bool


class OrderService:
    def __init__(
        self,
        runner: DeciderRunner[OrderCommand, Order | None],
        pricing: Callable[[], PricingConfig],
        *,
        vault: Vault | None = None,
        returns: ReturnPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        """`vault` seals the personal data of the orders placed (needed only where orders are placed)."""
        self.runner = runner
        self.vault = vault
        self.returns = returns or ReturnPolicy()
        self._pricing = pricing
        self._clock = clock
        self._new_id = new_id

    def place(
        self,
        customer_id: str,
        checkout: Checkout,
        *,
        idempotency_key: str | None,
        correlation_id: str | None = None,
    ) -> OrderAnswer:
        """Price the checkout and create the order. With an idempotency key, a retry lands on the same order
        and answers with it, even when the order could no longer be priced (a campaign ended, a SKU left the
        catalog, the pricing configuration is broken)."""
        order_id = order_id_for(customer_id, idempotency_key) if idempotency_key else self._new_id()
        command_id = derived_id("PlaceOrder", idempotency_key or self._new_id())
        personal = checkout.personal.model_dump(mode="json") if checkout.personal else None
        if personal is not None and self.vault is None:
            raise RuntimeError("this orders service has no personal data vault to seal the order's data with")
        # The customer's key as it is now: never one destroyed by an erasure in another container.
        key = self.vault.key_for(customer_id) if self.vault and personal else None
        request_fingerprint = checkout.fingerprint(key.digest(personal) if key and personal else None)
        now = self._clock()
        try:
            config = self._pricing()
            priced = price_order(
                list(checkout.lines),
                destination_country=checkout.destination_country,
                campaign_code=checkout.campaign_code,
                config=config,
                at=now,
            )
        except (PricingError, PricingConfigError) as error:
            placed = idempotency_key and self.runner.applied(
                order_id, command_id=command_id, fingerprint=request_fingerprint
            )
            if placed:
                return _answer(placed)
            if isinstance(error, PricingConfigError):
                raise PricingUnavailableError(error) from error
            raise
        command = PlaceOrder(
            order_id=order_id,
            customer_id=customer_id,
            priced=priced,
            destination_country=checkout.destination_country,
            # Sealed before it is part of anything stored: the command, the event, the snapshot.
            personal=key.seal(personal) if key and personal else None,
            payment_method=checkout.payment_method,
            at=now,
        )
        result = self.runner.handle(
            order_id,
            command,
            command_id=command_id,
            fingerprint=request_fingerprint,
            correlation_id=correlation_id,
            expect_new=True,
        )
        return _answer(result)

    def cancel(
        self,
        order_id: str,
        customer_id: str,
        *,
        idempotency_key: str | None,
        correlation_id: str | None = None,
    ) -> OrderAnswer:
        """The customer's cancellation. Another customer's order answers as a missing one."""
        if not is_order_id(order_id):
            raise OrderNotFoundError(order_id)
        command = CancelOrder(
            order_id=order_id, reason="customer_request", requested_by=customer_id, at=self._clock()
        )
        result = self.runner.handle(
            order_id,
            command,
            # Scoped to the caller: another customer's key never matches, so it cannot probe.
            command_id=derived_id("CancelOrder", customer_id, idempotency_key or self._new_id()),
            fingerprint=fingerprint({"order_id": order_id, "customer_id": customer_id}),
            correlation_id=correlation_id,
        )
        return _answer(result)

    def request_return(
        self,
        order_id: str,
        customer_id: str,
        lines: tuple[ReturnLine, ...],
        *,
        idempotency_key: str | None,
        correlation_id: str | None = None,
    ) -> ReturnAnswer:
        """The customer asks to return lines of their delivered order. With an idempotency key, a retry lands
        on the same return. Another customer's order answers as a missing one."""
        if not is_order_id(order_id):
            raise OrderNotFoundError(order_id)
        key = idempotency_key or self._new_id()
        return_id = str(uuid.uuid5(RETURN_ID_NAMESPACE, json.dumps([order_id, customer_id, key])))
        now = self._clock()
        command = RequestReturn(
            order_id=order_id,
            return_id=return_id,
            requested_by=customer_id,
            lines=lines,
            window_seconds=self.returns.window_seconds,
            deadline_at=now + timedelta(seconds=self.returns.receipt_seconds),
            at=now,
        )
        result = self.runner.handle(
            order_id,
            command,
            # Scoped to the caller: another customer's key never matches, so it cannot probe.
            command_id=derived_id("RequestReturn", customer_id, key),
            fingerprint=fingerprint({"order_id": order_id, "lines": [line.model_dump() for line in lines]}),
            correlation_id=correlation_id,
        )
        return _return_answer(result, return_id)

    def receive_return(
        self,
        order_id: str,
        return_id: str,
        lines: tuple[ReceivedLine, ...],
        *,
        idempotency_key: str | None,
        correlation_id: str | None = None,
    ) -> ReturnAnswer:
        """Warehouse staff received the return's parcel and say what state each line is in."""
        if not is_order_id(order_id):
            raise OrderNotFoundError(order_id)
        if not is_return_id(return_id):
            raise ReturnNotFoundError(order_id, return_id)
        command = ReceiveReturn(order_id=order_id, return_id=return_id, lines=lines, at=self._clock())
        result = self.runner.handle(
            order_id,
            command,
            command_id=derived_id("ReceiveReturn", return_id, idempotency_key or self._new_id()),
            fingerprint=fingerprint({"return_id": return_id, "lines": [line.model_dump() for line in lines]}),
            correlation_id=correlation_id,
        )
        return _return_answer(result, return_id)

    def apply_queued(self, message: CommandMessage) -> QueuedOutcome:
        """Apply a command another context queued for an order, idempotently by its command id. A refusal
        in `FINAL_ORDER_REFUSALS` is returned (to acknowledge the message); any other refusal raises."""
        command = read_queued_command(message)
        try:
            result = self.runner.handle(
                command.order_id,
                command,
                command_id=message.command_id,
                fingerprint=fingerprint(message.payload),
                correlation_id=message.correlation_id,
                causation_id=message.causation_id,
            )
        except FINAL_ORDER_REFUSALS.get(message.command_type, ()) as rejection:
            return QueuedCommandRefused(command, rejection)
        return QueuedCommandApplied(command, _answer(result))


def _answer(result: CommandResult[Order | None]) -> OrderAnswer:
    if result.state is None:  # every order command either creates the order or needs one
        raise RuntimeError(f"order {result.aggregate_id} has no state after a command")
    return OrderAnswer(result.state, result.version, len(result.events), result.duplicate)


def _return_answer(result: CommandResult[Order | None], return_id: str) -> ReturnAnswer:
    answer = _answer(result)
    returned = answer.order.find_return(return_id)
    if returned is None:
        raise ReturnNotFoundError(answer.order.order_id, return_id)
    return ReturnAnswer(answer.order, answer.version, returned, answer.recorded, answer.replayed)
