"""The event-sourcing core: event store, deciders and their runner. Knows nothing of orders or payments."""

from eventcore.errors import (
    CommitTooLargeError,
    ConcurrencyError,
    CorruptStreamError,
    EventCoreError,
    EventNotApplicableError,
    IdempotencyConflictError,
    TooManyConflictsError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
)
from eventcore.write.decider import Decider, fingerprint
from eventcore.write.dynamodb_store import DynamoDBEventStore, commit_from_item, commit_to_item
from eventcore.write.events import Event, EventRegistry, RecordedEvent
from eventcore.write.runner import Aggregate, CommandResult, DeciderRunner
from eventcore.write.store import Commit, EventStore, InMemoryEventStore, aggregate_id

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
    "EventCoreError",
    "EventNotApplicableError",
    "EventRegistry",
    "EventStore",
    "IdempotencyConflictError",
    "InMemoryEventStore",
    "RecordedEvent",
    "TooManyConflictsError",
    "UnknownEventTypeError",
    "UnsupportedSchemaVersionError",
    "aggregate_id",
    "commit_from_item",
    "commit_to_item",
    "fingerprint",
]
