"""Messages between microsystems, as their consumers read and send them: published events (CloudEvents 1.0
JSON on Kinesis, one per event, partition key = aggregate id) and commands on SQS FIFO queues. A message
that cannot be read raises `MalformedMessageError`: the consumer fails that record, and the event source
mapping's retries and on-failure destination (or the queue's redrive policy) park it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventcore.messaging.cloudevents import CloudEventType, InvalidCloudEventError, parse_cloudevent
from eventcore.validation import summary

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class MalformedMessageError(ValueError):
    """The message is not what the contract says (not JSON, missing fields, bad type or version)."""


class UnexpectedEventError(MalformedMessageError):
    """An event type or schema version this consumer does not know: parked for a person to look at, never
    guessed at."""


# -- published events (CloudEvents) --------------------------------------------------------------------------


class PublishedEvent(BaseModel):
    """One published event, unwrapped: what a consumer needs to decide and to trace."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    source: str
    event_type: str
    schema_version: int
    subject: str | None
    data: dict[str, Any]
    correlation_id: str | None
    causation_id: str | None


def read_published_event(raw: bytes | str) -> PublishedEvent:
    """A Kinesis record's data as the event it carries. The CloudEvent is checked by the one parser of the
    format, next to the publisher that writes it (`eventcore.messaging.cloudevents.parse_cloudevent`);
    consumers also need `data` to be a JSON object and the tracing extensions to be strings."""
    try:
        document = parse_cloudevent(json.loads(raw))
        # One definition of the type's format, shared with the publisher: `<prefix>.<EventType>.v<N>`.
        event_type = CloudEventType.parse(document["type"])
    except (ValueError, InvalidCloudEventError) as error:  # not JSON (or not UTF-8), or not a CloudEvent
        raise MalformedMessageError(f"not a CloudEvents 1.0 JSON event: {error}") from error
    data = document.get("data")
    if not isinstance(data, dict):
        raise MalformedMessageError("not a CloudEvents 1.0 JSON event: 'data' must be a JSON object")
    for name in ("subject", "correlationid", "causationid"):
        if document.get(name) is not None and not isinstance(document[name], str):
            raise MalformedMessageError(f"not a CloudEvents 1.0 JSON event: {name!r} must be a string")
    return PublishedEvent(
        event_id=document["id"],
        source=document["source"],
        event_type=event_type.event_type,
        schema_version=event_type.schema_version,
        subject=document.get("subject"),
        data=data,
        correlation_id=document.get("correlationid"),
        causation_id=document.get("causationid"),
    )


@dataclass(frozen=True, slots=True)
class InboundEvents[M: BaseModel]:
    """The published events of another context as one consumer reads them: the types it acts on, each with
    the schema versions it understands and the model that reads them (only the fields it needs), and the
    types it knows and deliberately ignores. Anything else (an unknown type, a schema version not understood
    yet) raises `UnexpectedEventError`, so the record is parked, never guessed at."""

    context: str
    handled: Mapping[str, tuple[frozenset[int], type[M]]]
    ignored: frozenset[str] = frozenset()

    def read(self, event_type: str, schema_version: int, data: dict[str, Any]) -> M | None:
        """The event's data as this consumer understands it; None for a type it ignores."""
        if event_type in self.ignored:
            return None
        if event_type not in self.handled:
            raise UnexpectedEventError(f"unknown {self.context} event type {event_type!r}")
        versions, model = self.handled[event_type]
        if schema_version not in versions:
            supported = sorted(versions)
            raise UnexpectedEventError(
                f"{event_type} schema version {schema_version} is not supported (supported: {supported})"
            )
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise MalformedMessageError(
                f"{event_type} v{schema_version} data is invalid: {summary(error.errors())}"
            ) from error


@dataclass(frozen=True, slots=True)
class QueuedCommands[M: BaseModel]:
    """A context's public command contract: the payload model of each command type other contexts may queue
    for it. A command of another type, or a payload its model refuses, raises `MalformedMessageError`, so
    the message is parked, never guessed at."""

    context: str
    models: Mapping[str, type[M]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.models)

    def read(self, message: CommandMessage) -> M:
        model = self.models.get(message.command_type)
        if model is None:
            known = sorted(self.models)
            raise MalformedMessageError(
                f"unknown command type {message.command_type!r}; {self.context} takes {known}"
            )
        try:
            return model.model_validate(message.payload)
        except ValidationError as error:
            raise MalformedMessageError(
                f"{message.command_type} payload is invalid: {summary(error.errors())}"
            ) from error


class RecordLogger(Protocol):
    """What the consuming frames need of a logger (Powertools' Logger has it)."""

    def set_correlation_id(self, value: str | None) -> None: ...
    def append_context_keys(self, **keys: Any) -> AbstractContextManager[Any]: ...
    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None: ...


class ThreadKeysLogger(Protocol):
    """Powertools' Logger's thread-local keys (`thread_safe_append_keys` and the rest)."""

    def thread_safe_append_keys(self, **keys: Any) -> None: ...
    def thread_safe_remove_keys(self, keys: Iterable[str]) -> None: ...
    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None: ...


class PerThreadRecordLogger:
    """The consuming frames' logger for records handled on several threads at once: the record's keys and
    its correlation id go to the thread's own keys (Powertools' `thread_safe_append_keys`, a context
    variable), which the formatter lays over the keys every thread shares. Powertools' `append_keys`,
    `append_context_keys` and `set_correlation_id` write the one formatter all threads share, so one
    record's order id would show on another's lines, and its removal would strip another's."""

    def __init__(self, logger: ThreadKeysLogger) -> None:
        self._logger = logger

    def set_correlation_id(self, value: str | None) -> None:
        self._logger.thread_safe_append_keys(correlation_id=value)  # None: shown on no line of this thread

    @contextmanager
    def append_context_keys(self, **keys: Any) -> Iterator[None]:
        self._logger.thread_safe_append_keys(**keys)
        try:
            yield
        finally:
            self._logger.thread_safe_remove_keys(keys)

    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._logger.exception(msg, *args, **kwargs)


@contextmanager
def _consuming[M](
    logger: RecordLogger,
    read: Callable[[], M],
    describe: Callable[[M], tuple[str, str | None, dict[str, Any]]],
    record_keys: dict[str, Any],
) -> Iterator[M]:
    """The frame of one record's handling: the record's keys, then what the message says of itself (its
    name, correlation id and keys) on every line logged; any failure, unreadable input included, logged
    with its cause and re-raised, so the batch response reports the record and the event source mapping
    retries, then parks it."""
    logger.set_correlation_id(None)
    with logger.append_context_keys(**record_keys):
        try:
            message = read()
        except Exception:
            logger.exception("unreadable record: failed, to be parked after the retries")
            raise
        name, correlation_id, keys = describe(message)
        # The id of the request that began the story: on every line logged for this record.
        logger.set_correlation_id(correlation_id)
        with logger.append_context_keys(**keys):
            try:
                yield message
            except Exception:
                logger.exception(f"{name} failed: will be retried, then parked")
                raise


def consuming_event(
    logger: RecordLogger, raw: bytes | str, *, data_keys: Iterable[str] = (), **record_keys: Any
) -> AbstractContextManager[PublishedEvent]:
    """The frame of one Kinesis record's handling (see `_consuming`): the event's id, type, schema version,
    correlation id and the `data_keys` fields of its data are on every line logged."""

    def describe(event: PublishedEvent) -> tuple[str, str | None, dict[str, Any]]:
        keys = {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            **{key: event.data.get(key) for key in data_keys},
        }
        return event.event_type, event.correlation_id, keys

    return _consuming(logger, lambda: read_published_event(raw), describe, record_keys)


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

    def sqs_entry(self, group_id: str) -> FifoEntry:
        """SendMessage arguments (without the queue): one group per aggregate, deduplicated by command id."""
        return FifoEntry(
            MessageBody=self.model_dump_json(),
            MessageGroupId=group_id,
            MessageDeduplicationId=deduplication_id(self.command_id),
        )


class FifoEntry(TypedDict):
    """What SendMessage needs, besides the queue, to put a command on a FIFO queue."""

    MessageBody: str
    MessageGroupId: str
    MessageDeduplicationId: str


def parse_command_message(body: str) -> CommandMessage:
    try:
        return CommandMessage.model_validate_json(body)
    except ValidationError as error:
        raise MalformedMessageError(
            f"not a command message: {summary(error.errors(), whole='(message)')}"
        ) from error


def consuming_command(
    logger: RecordLogger, body: str, *, payload_keys: Iterable[str] = (), **record_keys: Any
) -> AbstractContextManager[CommandMessage]:
    """The frame of one queued command's handling (see `_consuming`): its type, id, correlation id and the
    `payload_keys` fields of its payload are on every line logged."""

    def describe(message: CommandMessage) -> tuple[str, str | None, dict[str, Any]]:
        keys = {
            "command_type": message.command_type,
            "command_id": message.command_id,
            **{key: message.payload.get(key) for key in payload_keys},
        }
        return message.command_type, message.correlation_id, keys

    return _consuming(logger, lambda: parse_command_message(body), describe, record_keys)


def consuming_queued(
    logger: RecordLogger, record: SQSRecord, *, payload_keys: Iterable[str] = ("order_id",)
) -> AbstractContextManager[CommandMessage]:
    """`consuming_command` for an SQS record, as every command consumer has it: the message's id (and its
    FIFO message group, on a FIFO queue) on every line logged, with the order it is about."""
    group = record.attributes.message_group_id
    keys = {"message_id": record.message_id, **({"message_group_id": group} if group else {})}
    return consuming_command(logger, record.body, payload_keys=payload_keys, **keys)


def deduplication_id(command_id: str) -> str:
    """SQS allows 128 characters of [A-Za-z0-9] and punctuation; a hash of the command id always fits."""
    return hashlib.sha256(command_id.encode()).hexdigest()
