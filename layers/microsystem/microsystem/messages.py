"""Messages between microsystems, as their consumers read and send them: published events (CloudEvents 1.0
JSON on Kinesis, one per event, partition key = aggregate id) and commands on SQS FIFO queues. A message
that cannot be read raises `MalformedMessageError`: the consumer fails that record, and the event source
mapping's retries and on-failure destination (or the queue's redrive policy) park it."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from microsystem.cloudevents import CloudEventType, InvalidCloudEventError


class MalformedMessageError(ValueError):
    """The message is not what the contract says (not JSON, missing fields, bad type or version)."""


class UnexpectedEventError(MalformedMessageError):
    """An event type or schema version this consumer does not know: parked for a person to look at, never
    guessed at."""


# -- published events (CloudEvents) --------------------------------------------------------------------------


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 structured-mode JSON event as the publisher (microsystem.cloudevents) puts it on
    Kinesis; the attributes consumers rely on are checked, other extensions pass through."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: str | None = None
    datacontenttype: str | None = None
    data: dict[str, Any]
    # Extensions: the stream version of the event, and the ids tracing it to the request that began it all.
    sequence: str | int | None = None
    correlationid: str | None = None
    causationid: str | None = None


class PublishedEvent(BaseModel):
    """One published event, unwrapped: what a consumer needs to decide and to trace."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: str
    schema_version: int
    subject: str | None
    data: dict[str, Any]
    correlation_id: str | None
    causation_id: str | None


def parse_cloudevent(raw: bytes | str) -> PublishedEvent:
    try:
        event = CloudEvent.model_validate_json(raw)
    except ValidationError as error:
        raise MalformedMessageError(f"not a CloudEvents 1.0 JSON event: {_summary(error)}") from error
    try:
        # One definition of the type's format, shared with the publisher: `<prefix>.<EventType>.v<N>`.
        event_type = CloudEventType.parse(event.type)
    except InvalidCloudEventError as error:
        raise MalformedMessageError(str(error)) from error
    return PublishedEvent(
        event_id=event.id,
        event_type=event_type.event_type,
        schema_version=event_type.schema_version,
        subject=event.subject,
        data=event.data,
        correlation_id=event.correlationid,
        causation_id=event.causationid,
    )


# -- commands on queues --------------------------------------------------------------------------------------


class CommandMessage(BaseModel):
    """A command sent to another aggregate through an SQS FIFO queue. `command_id` makes it idempotent where
    it is applied; `causation_id` is the event that caused it; `correlation_id` the request that began it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_schema: Literal[1] = 1
    command_type: str = Field(min_length=1, max_length=64)
    command_id: str = Field(min_length=1, max_length=256)
    payload: dict[str, Any]
    correlation_id: str | None = None
    causation_id: str | None = None

    def sqs_entry(self, group_id: str) -> dict[str, str]:
        """SendMessage arguments (without the queue): one group per aggregate, deduplicated by command id."""
        return {
            "MessageBody": self.model_dump_json(),
            "MessageGroupId": group_id,
            "MessageDeduplicationId": deduplication_id(self.command_id),
        }


def parse_command_message(body: str) -> CommandMessage:
    try:
        return CommandMessage.model_validate_json(body)
    except ValidationError as error:
        raise MalformedMessageError(f"not a command message: {_summary(error)}") from error


def deduplication_id(command_id: str) -> str:
    """SQS allows 128 characters of [A-Za-z0-9] and punctuation; a hash of the command id always fits."""
    return hashlib.sha256(command_id.encode()).hexdigest()


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in problem['loc']) or '(message)'}: {problem['msg']}"
        for problem in error.errors(include_url=False)[:5]
    )
