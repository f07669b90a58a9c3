"""The event-sourcing core: event store, deciders and their runner. Knows nothing of orders or payments."""

from microsystem.decider import Decider, fingerprint
from microsystem.dynamodb import DynamoDBEventStore, commit_from_item, commit_to_item
from microsystem.errors import (
    CommitTooLargeError,
    ConcurrencyError,
    CorruptStreamError,
    EventNotApplicableError,
    IdempotencyConflictError,
    MicrosystemError,
    TooManyConflictsError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
)
from microsystem.events import Event, EventRegistry, RecordedEvent
from microsystem.runner import Aggregate, CommandResult, DeciderRunner
from microsystem.store import Commit, EventStore, InMemoryEventStore, aggregate_id

__all__ = [
    "Aggregate",
    "CommandResult",
    "Commit",
    "CommitTooLargeError",
    "ConcurrencyError",
    "CorruptStreamError",
    "Decider",
    "DeciderRunner",
    "DynamoDBEventStore",
    "Event",
    "EventNotApplicableError",
    "EventRegistry",
    "EventStore",
    "IdempotencyConflictError",
    "InMemoryEventStore",
    "MicrosystemError",
    "RecordedEvent",
    "TooManyConflictsError",
    "UnknownEventTypeError",
    "UnsupportedSchemaVersionError",
    "aggregate_id",
    "commit_from_item",
    "commit_to_item",
    "fingerprint",
]
