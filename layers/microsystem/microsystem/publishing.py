"""Publishing an event log's stream to Kinesis as CloudEvents, partition key = aggregate id, keeping each
aggregate's order even when PutRecords partly fails. Knows no domain: the same code publishes any log."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from microsystem.cloudevents import commit_to_cloudevents, encode
from microsystem.projection import RecordFailure
from microsystem.stream import aggregate_id, group_by_stream

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

    from microsystem.store import Commit
    from microsystem.stream import CommitRecord

PUT_RECORDS_LIMIT = 500  # entries per PutRecords request
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024  # a request's data and partition keys together
RECORD_MAX_BYTES = 1024 * 1024  # one entry's data and partition key together


@dataclass(slots=True)
class _Pending:
    """One event waiting to be sent, with the stream record it came from."""

    record_index: int
    partition_key: str
    data: bytes
    attempts: int = 0

    @property
    def size(self) -> int:
        """What the entry counts against Kinesis' limits: its data plus its partition key (UTF-8)."""
        return len(self.data) + len(self.partition_key.encode())


@dataclass
class PublishResult:
    failures: list[RecordFailure] = field(default_factory=list)
    events_published: int = 0
    requests: int = 0
    retried: int = 0

    @property
    def failed_sequence_numbers(self) -> list[str]:
        return [failure.sequence_number for failure in self.failures]


class KinesisPublisher:
    """Sends a batch's events in rounds. PutRecords does not promise order within one request, and a later
    record can succeed where an earlier one failed; so each request carries at most one event per aggregate
    (its oldest unsent one), and an aggregate whose event failed sends nothing newer until that one is
    through. After `max_attempts` failures of one event, that record and the aggregate's later records are
    reported as batch item failures: Lambda delivers them again; consumers deduplicate by CloudEvent id.
    Requests hold at most 500 entries and 5 MiB; an event over Kinesis' 1 MiB per record can never be sent,
    so its record (and the aggregate's later ones) is reported at once, without a request."""

    def __init__(
        self,
        stream_name: str,
        client: KinesisClient,
        *,
        source: str,
        type_prefix: str,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stream_name = stream_name
        self.source = source
        self.type_prefix = type_prefix
        self._client = client
        self._max_attempts = max_attempts
        self._sleep = sleep

    def publish(self, records: Sequence[CommitRecord]) -> PublishResult:
        result = PublishResult()
        queues: dict[str, deque[_Pending]] = {}
        blocked: dict[str, tuple[int, str]] = {}  # stream -> (first record index not published, reason)
        index_of = {id(record): i for i, record in enumerate(records)}
        for stream, group in group_by_stream(records).items():
            queue: deque[_Pending] = deque()
            for record in group:
                if record.commit is None:
                    blocked[stream] = (index_of[id(record)], f"{type(record.error).__name__}: {record.error}")
                    break
                if reason := self._enqueue(queue, index_of[id(record)], stream, record.commit):
                    blocked[stream] = (index_of[id(record)], reason)
                    break
            queues[stream] = queue

        while heads := [(stream, queue[0]) for stream, queue in queues.items() if queue]:
            if retries := [pending.attempts for _, pending in heads if pending.attempts]:
                # Back off before resending what failed, by how often the most-failed of them has failed.
                self._sleep(backoff(max(retries)))
            for chunk in requests(heads):
                outcomes = self._put(chunk)
                result.requests += 1
                for (stream, pending), error in zip(chunk, outcomes, strict=True):
                    if error is None:
                        queues[stream].popleft()
                        result.events_published += 1
                        continue
                    pending.attempts += 1
                    result.retried += 1
                    if pending.attempts >= self._max_attempts:
                        # Give up on this aggregate for now; what it has not sent goes back to Lambda.
                        blocked[stream] = (pending.record_index, error)
                        queues[stream].clear()

        for stream, (first_index, reason) in blocked.items():
            result.failures.extend(
                RecordFailure(record.sequence_number, stream, reason)
                for i, record in enumerate(records)
                if record.stream == stream and i >= first_index
            )
        position = {record.sequence_number: i for i, record in enumerate(records)}
        result.failures.sort(key=lambda failure: position.get(failure.sequence_number, len(records)))
        return result

    def _enqueue(self, queue: deque[_Pending], record_index: int, stream: str, commit: Commit) -> str | None:
        """Queue the commit's events; or none of them, and the reason, if one is too large to publish."""
        entries = []
        for document in commit_to_cloudevents(commit, source=self.source, type_prefix=self.type_prefix):
            pending = _Pending(record_index, aggregate_id(stream), encode(document))
            if pending.size > RECORD_MAX_BYTES:
                return (
                    f"RecordTooLarge: event {document['id']} is {pending.size} bytes as a CloudEvent with "
                    f"its partition key; Kinesis takes at most {RECORD_MAX_BYTES} per record"
                )
            entries.append(pending)
        queue.extend(entries)
        return None

    def _put(self, chunk: list[tuple[str, _Pending]]) -> list[str | None]:
        """The error of each entry, None where it was stored."""
        try:
            response = self._client.put_records(
                StreamName=self.stream_name,
                Records=[{"PartitionKey": p.partition_key, "Data": p.data} for _, p in chunk],
            )
        except Exception as exc:  # throttled or unavailable as a whole: every entry failed this round
            return [f"{type(exc).__name__}: {exc}"] * len(chunk)
        return [
            f"{entry['ErrorCode']}: {entry.get('ErrorMessage', '')}" if entry.get("ErrorCode") else None
            for entry in response["Records"]
        ]


def backoff(attempts: int) -> float:
    """Seconds to wait before the next attempt of an entry that has failed `attempts` times (1, 2, ...)."""
    return min(0.05 * 2 ** (attempts - 1), 1.0)


def requests(heads: list[tuple[str, _Pending]]) -> list[list[tuple[str, _Pending]]]:
    """The heads in PutRecords requests of at most PUT_RECORDS_LIMIT entries and PUT_RECORDS_MAX_BYTES, in
    order. Every entry is at most RECORD_MAX_BYTES, so each fits in a request of its own."""
    chunks: list[list[tuple[str, _Pending]]] = []
    chunk: list[tuple[str, _Pending]] = []
    size = 0
    for head in heads:
        entry_size = head[1].size
        if chunk and (len(chunk) == PUT_RECORDS_LIMIT or size + entry_size > PUT_RECORDS_MAX_BYTES):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(head)
        size += entry_size
    if chunk:
        chunks.append(chunk)
    return chunks
