"""The fulfillment service: what the order-fulfilment process manager does with each fact it hears (an order
placed or cancelled, a payment or stock answer, the parcel's progress) and with its deadline. It runs the
process's decider through the core's runner, then sends the commands its new events call for: reservations
to inventory, the payment request and voids to payments, the confirmation or cancellation to orders, the
deadline message to itself; once the parcel leaves, the stock commitments and the order's shipment and
delivery. Every command id derives from the fact that caused it, so a redelivered fact sends the same
commands again (a crash may have come between recording and sending) and nothing is applied twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from eventcore.errors import UnknownEventTypeError, UnsupportedSchemaVersionError
from eventcore.messaging.command_sender import MAX_DELAY_SECONDS, OutgoingCommand
from eventcore.messaging.inbound import CommandMessage, MalformedMessageError, UnexpectedEventError
from eventcore.validation import summary
from eventcore.write.command_ids import Cause, command_fingerprint, derived_id
from orders.events import OrderCancelled, OrderCreated, order_events
from orders.fulfillment import (
    ORDER_EVENTS_HANDLED,
    PAYMENT_EVENTS,
    SHIPMENT_EVENTS,
    STOCK_EVENTS,
    DeadlinePassed,
    DeliveryRecorded,
    DispatchRecorded,
    FulfillmentCancelled,
    FulfillmentCompleted,
    FulfillmentStarted,
    LateAnswerCompensated,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from eventcore import DeciderRunner, Event
    from eventcore.messaging.command_sender import CommandSender
    from eventcore.messaging.inbound import PublishedEvent
    from orders.fulfillment import Fulfillment, FulfillmentInput

# The queues the process sends to, by the names its configuration gives their URLs.
ORDERS, PAYMENTS, INVENTORY, DEADLINES = "orders", "payments", "inventory", "deadlines"
Context = Literal["orders", "payments", "inventory", "shipping"]


class DeadlinePayload(BaseModel):
    """What the deadline message carries: whose deadline, and when it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: Annotated[str, Field(min_length=1, max_length=128)]
    deadline_at: AwareDatetime


@dataclass(frozen=True, slots=True)
class Reaction:
    """What one fact did: the process's new events (their types), the commands sent, and whether it was a
    redelivery (`replayed`: nothing recorded again, the same commands sent again)."""

    order_id: str | None
    recorded: tuple[str, ...]
    sent: tuple[str, ...]
    replayed: bool = False


IGNORED = Reaction(None, (), ())


class FulfillmentService:
    def __init__(
        self,
        runner: DeciderRunner[FulfillmentInput, Fulfillment | None],
        sender: CommandSender,
        *,
        sources: Mapping[str, Context],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`sources`: the CloudEvents `source` of each context's published events."""
        self.runner = runner
        self.sender = sender
        self._sources = dict(sources)
        self._clock = clock

    def react(self, event: PublishedEvent) -> Reaction:
        """Hear one published fact; raise on anything to retry (contention, a queue unavailable) or to park
        (an unknown type or source, a schema version not understood)."""
        fact = self._read(event)
        if fact is None:
            return IGNORED
        return self._decide(fact.order_id, fact, Cause.of(event))

    def deadline(self, message: CommandMessage) -> Reaction:
        """The deadline message came back. Early (a deadline beyond SQS's 15-minute delay): sent again for
        the time left. Otherwise the process decides whether it still waits for anything."""
        if message.command_type != "CheckDeadline":
            raise MalformedMessageError(
                f"the deadline queue takes CheckDeadline, not {message.command_type!r}"
            )
        try:
            payload = DeadlinePayload.model_validate(message.payload)
        except ValidationError as error:
            raise MalformedMessageError(f"CheckDeadline payload: {summary(error.errors())}") from error
        now = self._clock()
        if now < payload.deadline_at:
            self.sender.send([self._delayed(OutgoingCommand(DEADLINES, message), payload.deadline_at)])
            return Reaction(payload.order_id, (), (message.command_type,))
        cause = Cause.of_queued(message)
        return self._decide(payload.order_id, DeadlinePassed(order_id=payload.order_id, at=now), cause)

    # -- deciding and sending ----------------------------------------------------------------------------

    def _decide(self, order_id: str, fact: FulfillmentInput, cause: Cause) -> Reaction:
        command_id = cause.command_id(fact)
        result = self.runner.handle(
            order_id,
            fact,
            command_id=command_id,
            fingerprint=command_fingerprint(fact),
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
        )
        events: Sequence[Event] = result.events
        if result.duplicate:
            # Heard before: what it recorded then may not have been sent (a crash between the two).
            events = self.runner.recorded(order_id, command_id) or ()
        lines = [line.sku for line in result.state.lines] if result.state is not None else []
        commands = [command for event in events for command in self._commands_for(event, cause, lines)]
        if commands:
            self.sender.send(commands)
        return Reaction(
            order_id,
            tuple(event.event_type() for event in result.events),
            tuple(command.message.command_type for command in commands),
            result.duplicate,
        )

    def _commands_for(self, event: Event, cause: Cause, skus: Sequence[str]) -> list[OutgoingCommand]:
        match event:
            case FulfillmentStarted() as started:
                reservations = [
                    self._command(
                        INVENTORY,
                        "ReserveStock",
                        cause,
                        {
                            "sku": line.sku,
                            "order_id": started.order_id,
                            "quantity": line.quantity,
                            "expires_at": started.deadline_at.isoformat(),
                        },
                        group_id=line.sku,  # one writer per SKU: its reservations are applied in order
                        part=line.sku,
                    )
                    for line in started.lines
                ]
                payment = self._command(
                    PAYMENTS,
                    "RequestPayment",
                    cause,
                    {
                        "order_id": started.order_id,
                        "customer_id": started.customer_id,
                        "amount": started.amount,
                        "currency": started.currency,
                    },
                    group_id=started.order_id,
                )
                deadline = self._command(
                    DEADLINES,
                    "CheckDeadline",
                    cause,
                    {"order_id": started.order_id, "deadline_at": started.deadline_at.isoformat()},
                )
                return [*reservations, payment, self._delayed(deadline, started.deadline_at)]
            case FulfillmentCompleted() as completed:
                payload = {
                    "order_id": completed.order_id,
                    "payment_id": completed.payment_id,
                    "at": completed.completed_at.isoformat(),
                }
                return [self._command(ORDERS, "ConfirmOrder", cause, payload, group_id=completed.order_id)]
            case FulfillmentCancelled() as cancelled:
                return self._compensations(cancelled, cause, skus)
            case DispatchRecorded() as dispatched:
                # What each line held leaves the warehouse with the parcel; the order learns its tracking.
                commits = [
                    self._command(
                        INVENTORY,
                        "CommitStock",
                        cause,
                        {"sku": sku, "order_id": dispatched.order_id},
                        group_id=sku,
                        part=sku,
                    )
                    for sku in skus
                ]
                shipped = {
                    "order_id": dispatched.order_id,
                    "carrier": dispatched.carrier,
                    "tracking_number": dispatched.tracking_number,
                    "at": dispatched.dispatched_at.isoformat(),
                }
                return [
                    *commits,
                    self._command(ORDERS, "ShipOrder", cause, shipped, group_id=dispatched.order_id),
                ]
            case DeliveryRecorded() as delivered:
                payload = {"order_id": delivered.order_id, "at": delivered.delivered_at.isoformat()}
                return [self._command(ORDERS, "DeliverOrder", cause, payload, group_id=delivered.order_id)]
            case LateAnswerCompensated(kind="stock", sku=str() as sku) as late:
                return [self._release(late.order_id, sku, "late reservation after cancellation", cause)]
            case LateAnswerCompensated() as late:
                return [self._void(late.order_id, "late authorisation after cancellation", cause)]
        return []

    def _compensations(
        self, cancelled: FulfillmentCancelled, cause: Cause, skus: Sequence[str]
    ) -> list[OutgoingCommand]:
        """Cancel the order (unless it is cancelled already), release every line, void the payment: each of
        them is harmless where nothing was held or authorised."""
        commands = []
        if cancelled.cancel_order:
            payload: dict[str, Any] = {
                "order_id": cancelled.order_id,
                "reason": cancelled.reason,
                "requested_by": None,
                "at": cancelled.cancelled_at.isoformat(),
            }
            commands.append(self._command(ORDERS, "CancelOrder", cause, payload, group_id=cancelled.order_id))
        reason = f"order cancelled: {cancelled.reason}"
        commands.extend(self._release(cancelled.order_id, sku, reason, cause) for sku in skus)
        commands.append(self._void(cancelled.order_id, reason, cause))
        return commands

    def _release(self, order_id: str, sku: str, reason: str, cause: Cause) -> OutgoingCommand:
        payload = {"sku": sku, "order_id": order_id, "reason": reason[:64]}
        return self._command(INVENTORY, "ReleaseStock", cause, payload, group_id=sku, part=sku)

    def _void(self, order_id: str, reason: str, cause: Cause) -> OutgoingCommand:
        payload = {"order_id": order_id, "reason": reason}
        return self._command(PAYMENTS, "VoidPayment", cause, payload, group_id=order_id)

    @staticmethod
    def _command(
        queue: str,
        command_type: str,
        cause: Cause,
        payload: dict[str, Any],
        *,
        group_id: str | None = None,
        part: str | None = None,
    ) -> OutgoingCommand:
        """A command caused by `cause`; `part` tells apart the commands of one type that one cause sends."""
        parts = (cause.id,) if part is None else (cause.id, part)
        message = CommandMessage(
            command_type=command_type,
            command_id=derived_id(command_type, *parts),
            payload=payload,
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
        )
        return OutgoingCommand(queue, message, group_id=group_id)

    def _delayed(self, command: OutgoingCommand, deadline_at: datetime) -> OutgoingCommand:
        left = (deadline_at - self._clock()).total_seconds()
        delay = min(max(int(left + 0.999), 0), MAX_DELAY_SECONDS)
        return OutgoingCommand(command.queue, command.message, delay_seconds=delay)

    # -- reading what is heard ---------------------------------------------------------------------------

    def _read(self, event: PublishedEvent) -> FulfillmentInput | None:
        context = self._sources.get(event.source)
        match context:
            case "orders":
                # The order's own events, read with the orders' registry (upcast to their current shape);
                # an unknown type or schema version is parked like any other context's.
                try:
                    fact = order_events.decode_data(event.event_type, event.schema_version, event.data)
                except (UnknownEventTypeError, UnsupportedSchemaVersionError) as error:
                    raise UnexpectedEventError(str(error)) from error
                if event.event_type not in ORDER_EVENTS_HANDLED:
                    return None  # caused by the process itself, or needing nothing from it
                return fact if isinstance(fact, OrderCreated | OrderCancelled) else None
            case "payments":
                return PAYMENT_EVENTS.read(event.event_type, event.schema_version, event.data)
            case "inventory":
                return STOCK_EVENTS.read(event.event_type, event.schema_version, event.data)
            case "shipping":
                return SHIPMENT_EVENTS.read(event.event_type, event.schema_version, event.data)
        raise UnexpectedEventError(
            f"event {event.event_id} comes from {event.source!r}, which this process does not hear"
        )
