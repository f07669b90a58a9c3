"""The core's error hierarchy: every failure the event-sourcing machinery can report, named."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

    from eventcore.write.store import Commit


def error_code(error: ClientError) -> str:
    """The AWS error code of a failed call. Errors are told apart by it, not by `client.exceptions.<Code>`:
    botocore builds a client's exception classes lazily and not thread-safely, so two threads sharing a
    client can get two different classes, and an except clause misses the one raised."""
    return str(error.response.get("Error", {}).get("Code", ""))


class EventCoreError(Exception):
    """Base of every error raised by the event-sourcing core."""


class ConcurrencyError(EventCoreError):
    """Another writer appended at this version first (or a commit already holds this version);
    `existing` is that commit, when the store knows it."""

    def __init__(self, stream_id: str, version: int, existing: Commit | None = None) -> None:
        super().__init__(f"stream {stream_id!r} already has a commit at version {version}")
        self.stream_id = stream_id
        self.version = version
        self.existing = existing


class TooManyConflictsError(EventCoreError):
    """The command lost the race for the stream's next version on every attempt."""

    def __init__(self, stream_id: str, attempts: int) -> None:
        super().__init__(f"stream {stream_id!r}: gave up after {attempts} conflicting attempts, retry later")
        self.stream_id = stream_id
        self.attempts = attempts


class IdempotencyConflictError(EventCoreError):
    """A command id that was already used, now sent with a different payload."""

    def __init__(self, command_id: str) -> None:
        super().__init__(f"command id {command_id!r} was already used with a different payload")
        self.command_id = command_id


class CommitTooLargeError(EventCoreError):
    """The commit would not fit in one DynamoDB item (400 KB); nothing was written."""

    def __init__(self, stream_id: str, size: int, limit: int) -> None:
        super().__init__(f"commit to stream {stream_id!r} is {size} bytes, over the {limit}-byte item limit")
        self.stream_id = stream_id
        self.size = size
        self.limit = limit


class UnknownEventTypeError(EventCoreError):
    """A stored event whose type no registered model knows."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class UnsupportedSchemaVersionError(EventCoreError):
    """A stored event whose schema version this code cannot upcast to its current model."""

    def __init__(self, event_type: str, schema_version: int, reason: str) -> None:
        super().__init__(f"{event_type} schema version {schema_version}: {reason}")
        self.event_type = event_type
        self.schema_version = schema_version


class EventNotApplicableError(EventCoreError):
    """A decider's `evolve` was given an event its state cannot follow (a second creation, a change before
    creation): only a damaged or misrouted stream gets here, and folding on would build a state the log does
    not justify. Every decider raises this one error, so the core and the consumers treat it alike."""

    def __init__(self, event: object, state: object) -> None:
        super().__init__(f"cannot apply {type(event).__name__} to state {state!r}")
        self.event_type = type(event).__name__
        self.state = state


class CorruptStreamError(EventCoreError):
    """The log holds commits that do not follow each other (a gap or an overlap in versions)."""

    def __init__(self, stream_id: str, expected: int, found: int) -> None:
        super().__init__(
            f"stream {stream_id!r}: expected a commit at version {expected}, found one at {found}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.found = found
