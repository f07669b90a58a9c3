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
from eventcore.write.runner import (
    Aggregate,
    BatchDecision,
    BatchMember,
    CommandResult,
    DeciderRunner,
    MemberOutcome,
    PreparedBatch,
)
from eventcore.write.store import Commit, EventStore, InMemoryEventStore, Member, aggregate_id

__all__ = [
    "Aggregate",
    "BatchDecision",
    "BatchMember",
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
    "Member",
    "MemberOutcome",
    "PreparedBatch",
    "RecordedEvent",
    "TooManyConflictsError",
    "UnknownEventTypeError",
    "UnsupportedSchemaVersionError",
    "aggregate_id",
    "commit_from_item",
    "commit_to_item",
    "fingerprint",
]
