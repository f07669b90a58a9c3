"""Command ids, the one way: a command asked for by a caller takes its id from the caller's idempotency key;
a command caused by an event takes it from the event's id, so a redelivered event decides nothing twice.
Ids built from several parts encode each part, so no two different sets of parts ever give the same id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from eventcore.write.decider import fingerprint

if TYPE_CHECKING:
    from pydantic import BaseModel

    from eventcore.messaging.inbound import CommandMessage, PublishedEvent
    from eventcore.write.runner import CommandResult, DeciderRunner


def derived_id(kind: str, *parts: str) -> str:
    """`kind:part:part`, each part percent-encoded (`:` becomes `%3A`): `("a", "x:k")` and `("a:x", "k")`
    give two ids. UUIDs and other plain parts read unchanged."""
    return ":".join([kind, *(quote(part, safe="") for part in parts)])


def command_fingerprint(command: BaseModel) -> str:
    """A command's payload without its time: a redelivery decides at another moment and is still the same
    command, while the same id with any other payload is a conflict."""
    return fingerprint(command.model_dump(mode="json", exclude={"at"}))


@dataclass(frozen=True, slots=True)
class Cause:
    """What a command reacts to: a published event, or a command another context queued. Its `id` makes
    the command's id; `causation_id` is the event recorded as the cause (a queued command's own cause);
    the story it belongs to (the correlation id of the request that began it) travels on."""

    id: str
    correlation_id: str | None = None
    causation_id: str | None = None

    @classmethod
    def of(cls, event: PublishedEvent) -> Cause:
        return cls(event.event_id, event.correlation_id, event.event_id)

    @classmethod
    def of_queued(cls, message: CommandMessage) -> Cause:
        return cls(message.command_id, message.correlation_id, message.causation_id)

    def command_id(self, command: BaseModel) -> str:
        return derived_id(type(command).__name__, self.id)


def react[C: BaseModel, S](
    runner: DeciderRunner[C, S], aggregate_id: str, command: C, cause: Cause
) -> CommandResult[S]:
    """Apply a command caused by `cause` to the aggregate: idempotent by the cause's id."""
    return runner.handle(
        aggregate_id,
        command,
        command_id=cause.command_id(command),
        fingerprint=command_fingerprint(command),
        correlation_id=cause.correlation_id,
        causation_id=cause.causation_id,
    )
