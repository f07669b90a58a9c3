"""Change records of an event log: what its DynamoDB stream (NEW_IMAGE) delivers, decoded into commits. Each
record keeps its sequence number and the stream id of its aggregate (from the record's keys), so a consumer
can group a batch per aggregate and report exactly the records that must be delivered again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from eventcore.errors import EventCoreError
from eventcore.write.dynamodb_store import commit_from_item
from eventcore.write.store import Commit


class UndecodableRecordError(EventCoreError):
    """A change record that is not a commit of the event log (damaged, or written by something else)."""

    def __init__(self, sequence_number: str, reason: str) -> None:
        super().__init__(f"change record {sequence_number} is not a commit: {reason}")
        self.sequence_number = sequence_number


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One change record: the commit it carries, or why it could not be decoded. `stream_id` comes from the
    record's keys, present even when the image is damaged, so a poison record blocks only the later records
    of its own aggregate; None when even the keys are missing (the record belongs to no aggregate)."""

    sequence_number: str
    stream_id: str | None
    commit: Commit | None = None
    error: Exception | None = None

    def require_commit(self) -> Commit:
        if self.commit is None:
            raise self.error or UndecodableRecordError(self.sequence_number, "no commit")
        return self.commit

    @property
    def problem(self) -> str:
        """Why the record cannot be used, for its failure report."""
        error = self.error or UndecodableRecordError(self.sequence_number, "no commit")
        return f"{type(error).__name__}: {error}"


def read_change_records(event: Mapping[str, Any]) -> list[ChangeRecord]:
    """The records of a DynamoDB Streams event, in delivery order. Never raises for one bad record: it comes
    back with `error` set, for the consumer to report."""
    return [decode_change_record(record.raw_event) for record in DynamoDBStreamEvent(dict(event)).records]


def decode_change_record(record: Mapping[str, Any]) -> ChangeRecord:
    body = record.get("dynamodb") or {}
    sequence_number = str(body.get("SequenceNumber") or record.get("eventID") or "")
    stream_id = (body.get("Keys") or {}).get("stream", {}).get("S") or None
    try:
        commit = commit_from_item(body["NewImage"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        return ChangeRecord(sequence_number, stream_id, error=UndecodableRecordError(sequence_number, reason))
    if commit.stream_id != stream_id:
        error = UndecodableRecordError(
            sequence_number, f"keys name {stream_id!r}, image {commit.stream_id!r}"
        )
        return ChangeRecord(sequence_number, stream_id, error=error)
    return ChangeRecord(sequence_number, stream_id, commit)


@dataclass(frozen=True, slots=True)
class GroupedRecords:
    """A batch's records per aggregate stream (each group in delivery order), and those of no aggregate."""

    by_stream: dict[str, list[ChangeRecord]]
    unattributed: list[ChangeRecord]


def group_by_stream(records: Iterable[ChangeRecord]) -> GroupedRecords:
    grouped = GroupedRecords({}, [])
    for record in records:
        if record.stream_id is None:
            grouped.unattributed.append(record)
        else:
            grouped.by_stream.setdefault(record.stream_id, []).append(record)
    return grouped
