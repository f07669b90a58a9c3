"""Publishing an event log's change records to a Kinesis stream as CloudEvents, partition key = aggregate id,
keeping each aggregate's order even when PutRecords partly fails. Knows no domain: the same code publishes
any log."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eventcore.lambdas.batch_consumer import RecordFailure
from eventcore.messaging.cloudevents import commit_to_cloudevents, encode
from eventcore.read.change_records import group_by_stream
from eventcore.write.store import aggregate_id

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

    from eventcore.read.change_records import ChangeRecord
    from eventcore.write.store import Commit

PUT_RECORDS_LIMIT = 500  # entries per PutRecords request
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024  # a request's data and partition keys together
RECORD_MAX_BYTES = 1024 * 1024  # one entry's data and partition key together


@dataclass(slots=True)
class _Pending:
    """One event waiting to be sent, with the position in the batch of the change record it came from."""

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
    skipped: int = 0  # change records of streams not published (private to the context)
    requests: int = 0
    retried: int = 0

    @property
    def failed_sequence_numbers(self) -> list[str]:
        return [failure.sequence_number for failure in self.failures]

    def figures(self) -> dict[str, int]:
        return {
            "PublishedEvents": self.events_published,
            "PublishRequests": self.requests,
            "PublishRetries": self.retried,
            "PublishFailedRecords": len(self.failures),
            "PublishSkippedRecords": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class _Blocked:
    """Where an aggregate stopped: the first record (by batch position) not published, and why."""

    first_index: int
    reason: str


class KinesisPublisher:
    """Sends a batch's events in rounds. PutRecords does not promise order within one request, and a later
    record can succeed where an earlier one failed; so each request carries at most one event per aggregate
    (its oldest unsent one), and an aggregate whose event failed sends nothing newer until that one is
    through. After `max_attempts` failures of one event, that record and the aggregate's later records are
    reported as batch item failures: Lambda delivers them again; consumers deduplicate by CloudEvent id.
    Requests hold at most 500 entries and 5 MiB; an event over Kinesis' 1 MiB per record can never be sent,
    so its record (and the aggregate's later ones) is reported at once, without a request.

    `aggregates` names the aggregates whose streams are published (None: all of them). A log may hold an
    aggregate's private streams beside its published ones (the orders log holds the process manager's);
    their records are acknowledged and counted as skipped, never sent."""

    def __init__(
        self,
        stream_name: str,
        client: KinesisClient,
        *,
        source: str,
        type_prefix: str,
        aggregates: frozenset[str] | None = None,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stream_name = stream_name
        self.aggregates = aggregates
        self.source = source
        self.type_prefix = type_prefix
        self._client = client
        self._max_attempts = max_attempts
        self._sleep = sleep

    def publish(self, records: Sequence[ChangeRecord]) -> PublishResult:
        result = PublishResult()
        position = {record.sequence_number: index for index, record in enumerate(records)}
        queues: dict[str, deque[_Pending]] = {}
        blocked: dict[str, _Blocked] = {}
        grouped = group_by_stream(records)
        for record in grouped.unattributed:
            # No aggregate: nothing else waits behind it, so it fails alone.
            result.failures.append(RecordFailure(record.sequence_number, None, record.problem))
        for stream_id, group in grouped.by_stream.items():
            if not self.publishes(stream_id):
                result.skipped += len(group)
                continue
            queue: deque[_Pending] = deque()
            for record in group:
                index = position[record.sequence_number]
                reason = (
                    record.problem if record.commit is None else self._enqueue(queue, index, record.commit)
                )
                if reason is not None:
                    blocked[stream_id] = _Blocked(index, reason)
                    break
            queues[stream_id] = queue

        while heads := [(stream_id, queue[0]) for stream_id, queue in queues.items() if queue]:
            if retries := [pending.attempts for _, pending in heads if pending.attempts]:
                # Back off before resending what failed, by how often the most-failed of them has failed.
                self._sleep(backoff(max(retries)))
            for chunk in requests(heads):
                outcomes = self._put(chunk)
                result.requests += 1
                for (stream_id, pending), error in zip(chunk, outcomes, strict=True):
                    if error is None:
                        queues[stream_id].popleft()
                        result.events_published += 1
                        continue
                    pending.attempts += 1
                    result.retried += 1
                    if pending.attempts >= self._max_attempts:
                        # Give up on this aggregate for now; what it has not sent goes back to Lambda.
                        blocked[stream_id] = _Blocked(pending.record_index, error)
                        queues[stream_id].clear()

        for stream_id, stop in blocked.items():
            result.failures.extend(
                RecordFailure(record.sequence_number, stream_id, stop.reason)
                for record in grouped.by_stream[stream_id]
                if position[record.sequence_number] >= stop.first_index
            )
        result.failures.sort(key=lambda failure: position.get(failure.sequence_number, len(records)))
        return result

    def publishes(self, stream_id: str) -> bool:
        aggregate, _, _ = stream_id.partition("-")
        return self.aggregates is None or aggregate in self.aggregates

    def _enqueue(self, queue: deque[_Pending], record_index: int, commit: Commit) -> str | None:
        """Queue the commit's events; or none of them, and the reason, if one is too large to publish."""
        entries = []
        for document in commit_to_cloudevents(commit, source=self.source, type_prefix=self.type_prefix):
            pending = _Pending(record_index, aggregate_id(commit.stream_id), encode(document))
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


def published_aggregates(setting: str | None) -> frozenset[str] | None:
    """`Order,Customer` -> those aggregates; absent or empty -> None (every aggregate is published)."""
    names = frozenset(name.strip() for name in (setting or "").split(",") if name.strip())
    return names or None


def backoff(attempts: int) -> float:
    """Seconds to wait before the next attempt of an entry that has failed `attempts` times (1, 2, ...)."""
    return min(0.05 * 2.0 ** (attempts - 1), 1.0)


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
