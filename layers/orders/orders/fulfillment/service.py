"""The fulfillment service: what the order-fulfillment process manager does with each fact it hears and with
its deadline. It reads the fact (`inbound`), runs the process's decider through the core's runner, then
sends the commands its new events call for (`outbound`). On a redelivered fact it records nothing and
sends the same commands again, with the same ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from eventcore.messaging.command_sender import OutgoingCommand
from eventcore.messaging.inbound import MalformedMessageError
from eventcore.validation import summary
from eventcore.write.command_ids import Cause, command_fingerprint
from orders.fulfillment.inbound import DeadlinePassed, read_fact
from orders.fulfillment.outbound import DEADLINES, commands_for, delayed
from orders.fulfillment.process import still_awaits

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from eventcore import DeciderRunner, Event
    from eventcore.messaging.command_sender import CommandSender
    from eventcore.messaging.inbound import CommandMessage, PublishedEvent
    from orders.fulfillment.inbound import Context, FulfillmentInput
    from orders.fulfillment.process import Fulfillment


class DeadlinePayload(BaseModel):
    """What the deadline message carries: whose deadline, and when it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: Annotated[str, Field(min_length=1, max_length=128)]
    return_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None  # a return's deadline
    watch: Literal["authorisation"] | None = None  # a look at the authorisation before it expires
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
        """`sources`: the context of each CloudEvents `source` the process hears."""
        self.runner = runner
        self.sender = sender
        self._sources = dict(sources)
        self._clock = clock

    def react(self, event: PublishedEvent) -> Reaction:
        """Hear one published fact; raise on anything to retry (contention, a queue unavailable) or to park
        (an unknown type or source, a schema version not understood)."""
        fact = read_fact(event, self._sources)
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
            if (payload.return_id or payload.watch) and not still_awaits(
                self.runner.load(payload.order_id).state, return_id=payload.return_id, watch=payload.watch
            ):
                # A return's parcel arrived, or the parcel left before the authorisation's look: a deadline
                # days away stops coming back every 15 minutes once nothing waits for it.
                return Reaction(payload.order_id, (), ())
            self.sender.send([delayed(OutgoingCommand(DEADLINES, message), payload.deadline_at, now)])
            return Reaction(payload.order_id, (), (message.command_type,))
        cause = Cause.of_queued(message)
        passed = DeadlinePassed(
            order_id=payload.order_id, at=now, return_id=payload.return_id, watch=payload.watch
        )
        return self._decide(payload.order_id, passed, cause)

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
        skus = [line.sku for line in result.state.lines] if result.state is not None else []
        now = self._clock()
        commands = [command for event in events for command in commands_for(event, cause, skus, now)]
        if commands:
            self.sender.send(commands)
        return Reaction(
            order_id,
            tuple(event.event_type() for event in result.events),
            tuple(command.message.command_type for command in commands),
            result.duplicate,
        )
