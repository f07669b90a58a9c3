"""The core's error hierarchy: every failure the event-sourcing machinery can report, named."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from microsystem.store import Commit


class MicrosystemError(Exception):
    """Base of every error raised by the event-sourcing core."""


class ConcurrencyError(MicrosystemError):
    """Another writer appended at this version first; `existing` is its commit, when the store knows it."""

    def __init__(self, stream: str, version: int, existing: Commit | None = None) -> None:
        super().__init__(f"stream {stream!r} already has a commit at version {version}")
        self.stream = stream
        self.version = version
        self.existing = existing


class TooManyConflictsError(MicrosystemError):
    """The command lost the race for the stream's next version on every attempt."""

    def __init__(self, stream: str, attempts: int) -> None:
        super().__init__(f"stream {stream!r}: gave up after {attempts} conflicting attempts, retry later")
        self.stream = stream
        self.attempts = attempts


class IdempotencyConflictError(MicrosystemError):
    """A command id that was already used, now sent with a different payload."""

    def __init__(self, command_id: str) -> None:
        super().__init__(f"command id {command_id!r} was already used with a different payload")
        self.command_id = command_id


class CommitTooLargeError(MicrosystemError):
    """The commit would not fit in one DynamoDB item (400 KB); nothing was written."""

    def __init__(self, stream: str, size: int, limit: int) -> None:
        super().__init__(f"commit to stream {stream!r} is {size} bytes, over the {limit}-byte item limit")
        self.stream = stream
        self.size = size
        self.limit = limit


class UnknownEventTypeError(MicrosystemError):
    """A stored event whose type no registered model knows."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class UnsupportedSchemaVersionError(MicrosystemError):
    """A stored event whose schema version this code cannot upcast to its current model."""

    def __init__(self, event_type: str, schema_version: int, reason: str) -> None:
        super().__init__(f"{event_type} schema version {schema_version}: {reason}")
        self.event_type = event_type
        self.schema_version = schema_version
