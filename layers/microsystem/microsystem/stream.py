"""DynamoDB Streams records of an event log, decoded into commits, and the partial batch response a stream
consumer returns. Each record keeps its sequence number and its aggregate stream, so a consumer can group a
batch per aggregate and report exactly the records that must be delivered again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from microsystem.dynamodb import commit_from_item
from microsystem.errors import MicrosystemError
from microsystem.store import Commit


class UndecodableRecordError(MicrosystemError):
    """A stream record that is not a commit of the event log (damaged, or written by something else)."""

    def __init__(self, sequence_number: str, reason: str) -> None:
        super().__init__(f"stream record {sequence_number} is not a commit: {reason}")
        self.sequence_number = sequence_number


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """One stream record: the commit it carries, or why it could not be decoded. `stream` comes from the
    record's keys, present even when the image is damaged, so a poison record still blocks only the later
    records of its own aggregate."""

    sequence_number: str
    stream: str
    commit: Commit | None = None
    error: Exception | None = None

    def require_commit(self) -> Commit:
        if self.commit is None:
            raise self.error or UndecodableRecordError(self.sequence_number, "no commit")
        return self.commit


def decode_dynamodb_stream(event: Mapping[str, Any]) -> list[CommitRecord]:
    """The records of a DynamoDB Streams event (NEW_IMAGE), in delivery order. Never raises for one bad
    record: it comes back with `error` set, for the consumer to report."""
    return [decode_dynamodb_record(record.raw_event) for record in DynamoDBStreamEvent(dict(event)).records]


def decode_dynamodb_record(record: Mapping[str, Any]) -> CommitRecord:
    body = record.get("dynamodb") or {}
    sequence_number = str(body.get("SequenceNumber") or record.get("eventID") or "")
    stream = (body.get("Keys") or {}).get("stream", {}).get("S")
    if not stream:
        # Without a key this record belongs to no aggregate we know: it forms a group of its own.
        stream = f"?{sequence_number}"
    try:
        image = body["NewImage"]
        commit = commit_from_item(image)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        return CommitRecord(sequence_number, stream, error=UndecodableRecordError(sequence_number, reason))
    if commit.stream != stream:
        error = UndecodableRecordError(sequence_number, f"keys name {stream!r}, image {commit.stream!r}")
        return CommitRecord(sequence_number, stream, error=error)
    return CommitRecord(sequence_number, stream, commit)


def group_by_stream(records: Iterable[CommitRecord]) -> dict[str, list[CommitRecord]]:
    """The batch's records per aggregate stream, each group in delivery order."""
    groups: dict[str, list[CommitRecord]] = {}
    for record in records:
        groups.setdefault(record.stream, []).append(record)
    return groups


def aggregate_id(stream: str) -> str:
    """`Order-42` -> `42`: the aggregate's id, used as partition key and CloudEvents subject."""
    _, _, identifier = stream.partition("-")
    return identifier or stream


def batch_response(failed_sequence_numbers: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """Lambda's partial batch response. On a stream, Lambda checkpoints at the lowest sequence number
    reported and delivers everything from there again, so consumers must be idempotent."""
    return {"batchItemFailures": [{"itemIdentifier": number} for number in failed_sequence_numbers]}
