"""Publishing an event log's stream to Kinesis as CloudEvents, partition key = aggregate id, keeping each
aggregate's order even when PutRecords partly fails. Knows no domain: the same code publishes any log."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from microsystem.cloudevents import commit_to_cloudevents, encode
from microsystem.projection import RecordFailure
from microsystem.stream import aggregate_id, group_by_stream

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

    from microsystem.stream import CommitRecord

PUT_RECORDS_LIMIT = 500


@dataclass(slots=True)
class _Pending:
    """One event waiting to be sent, with the stream record it came from."""

    record_index: int
    partition_key: str
    data: bytes
    attempts: int = 0


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
    reported as batch item failures: Lambda delivers them again; consumers deduplicate by CloudEvent id."""

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
                for document in commit_to_cloudevents(
                    record.commit, source=self.source, type_prefix=self.type_prefix
                ):
                    queue.append(_Pending(index_of[id(record)], aggregate_id(stream), encode(document)))
            queues[stream] = queue

        round_number = 0
        while heads := [(stream, queue[0]) for stream, queue in queues.items() if queue]:
            if any(pending.attempts for _, pending in heads):
                self._sleep(min(0.05 * 2**round_number, 1.0))  # back off before resending what failed
            round_number += 1
            for start in range(0, len(heads), PUT_RECORDS_LIMIT):
                chunk = heads[start : start + PUT_RECORDS_LIMIT]
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


def describe(result: PublishResult) -> dict[str, Any]:
    return {
        "events_published": result.events_published,
        "requests": result.requests,
        "retried": result.retried,
        "failed_records": len(result.failures),
    }
