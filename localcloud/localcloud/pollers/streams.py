"""Lambda's semantics for stream sources (DynamoDB Streams, Kinesis), shared by both pollers.

Per shard, in order: batches of up to BatchSize within MaximumBatchingWindowInSeconds; a partial batch
response checkpoints before the lowest failed sequence number and retries from it; a function error with
BisectBatchOnFunctionError splits the batch in two and retries each half; after MaximumRetryAttempts, or
when records are older than MaximumRecordAgeInSeconds, the batch's description goes to the OnFailure
destination and the shard moves on (-1 means forever, Lambda's default for streams). The destination gets
the description and the batch as the function was invoked with it: an S3 destination keeps both, SQS and SNS
only the description (`triggers.py`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.pollers.base import Poller

if TYPE_CHECKING:
    from localcloud.filters import RecordFilter
    from localcloud.pollers.base import PollerContext
    from localcloud.workers import Invocation

__all__ = ["SendFailure", "StreamBatchProcessor", "StreamRecord", "StreamSettings", "StreamShardPoller"]


class StoppingError(Exception):
    """The local cloud is stopping in the middle of a batch's retries."""


@dataclass
class StreamRecord:
    event: dict[str, Any]  # the record exactly as Lambda delivers it
    sequence_number: str
    arrival: float  # epoch seconds


@dataclass
class StreamSettings:
    """An event source mapping's settings for one shard, with Lambda's defaults."""

    function_arn: str
    stream_arn: str
    shard_id: str
    batch_info_key: str  # "DDBStreamBatchInfo" or "KinesisBatchInfo"
    batch_size: int = 100
    batching_window: float = 0.0
    bisect: bool = False
    max_retries: int = -1
    max_record_age: float = -1
    report_item_failures: bool = False


# Hands a discarded batch to the on-failure destination: (the invocation record Lambda sends, the event the
# function was invoked with, `{"Records": [...]}`).
type SendFailure = Callable[[dict[str, Any], dict[str, Any]], None]

FETCH_LIMIT = 1000  # records per GetRecords (DynamoDB Streams' most; Kinesis allows 10,000)

# Records reach a shard only through a write, which the write signal announces: an idle shard's poller
# looks again on its own only this often, as a safety net (each look is a GetRecords of moto's one thread).
STREAM_IDLE_WAIT_SECONDS = 2.0


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StreamBatchProcessor:
    """Takes one batch of a shard through invocations, retries, bisection and the failure destination."""

    def __init__(
        self,
        settings: StreamSettings,
        invoke: Callable[[list[StreamRecord]], Invocation],
        send_failure: SendFailure | None,
        clock: Callable[[], float] = time.time,
        pause: Callable[[float], bool] = lambda seconds: True,
    ) -> None:
        self.settings = settings
        self._invoke = invoke
        self._send_failure = send_failure
        self._clock = clock
        self._pause = pause

    def process(self, batch: list[StreamRecord]) -> None:
        """Returns once every record of the batch succeeded or was handed to the failure destination."""
        self._process(batch, retries=0)

    def _process(self, batch: list[StreamRecord], retries: int) -> None:
        while batch:
            batch = self._without_expired(batch)
            if not batch:
                return
            invocation = self._invoke(batch)
            failed_from = self.failed_from(invocation, batch)
            if failed_from is None:
                return
            if not invocation.ok and self.settings.bisect and len(batch) > 1:
                half = len(batch) // 2
                self._process(batch[:half], retries)
                self._process(batch[half:], retries)
                return
            batch = batch[failed_from:]  # checkpoint before the lowest failed record
            retries += 1
            if 0 <= self.settings.max_retries < retries:
                self._hand_over(batch, "RetryAttemptsExhausted", invocation, retries)
                return
            if not self._pause(min(0.05 * retries, 1.0)):
                raise StoppingError

    def failed_from(self, invocation: Invocation, batch: list[StreamRecord]) -> int | None:
        """Index of the first record to retry, or None if the batch succeeded."""
        if not invocation.ok:
            return 0
        if not self.settings.report_item_failures:
            return None
        payload = invocation.payload
        failures = payload.get("batchItemFailures") if isinstance(payload, dict) else None
        if not failures:
            return None
        positions = {record.sequence_number: index for index, record in enumerate(batch)}
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in positions:
                return 0  # Lambda treats an unknown or empty identifier as a failure of the whole batch
            indexes.append(positions[identifier])
        return min(indexes)

    def _without_expired(self, batch: list[StreamRecord]) -> list[StreamRecord]:
        if self.settings.max_record_age < 0:
            return batch
        oldest_allowed = self._clock() - self.settings.max_record_age
        expired = [record for record in batch if record.arrival < oldest_allowed]
        if expired:
            self._hand_over(expired, "RecordAgeExceeded", None, 0)
        return [record for record in batch if record.arrival >= oldest_allowed]

    def _hand_over(
        self, batch: list[StreamRecord], condition: str, invocation: Invocation | None, attempts: int
    ) -> None:
        if self._send_failure is None:
            return  # without a destination Lambda drops them too
        event = {"Records": [record.event for record in batch]}
        self._send_failure(self.failure_record(batch, condition, invocation, attempts), event)

    def failure_record(
        self, batch: list[StreamRecord], condition: str, invocation: Invocation | None, attempts: int
    ) -> dict[str, Any]:
        """The message Lambda sends to an on-failure destination for a stream batch."""
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if invocation is not None and not invocation.ok:
            response["functionError"] = "Unhandled"
        return {
            "requestContext": {
                "requestId": invocation.request_id if invocation else str(uuid.uuid4()),
                "functionArn": self.settings.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": iso(self._clock()),
            self.settings.batch_info_key: {
                "shardId": self.settings.shard_id,
                "startSequenceNumber": batch[0].sequence_number,
                "endSequenceNumber": batch[-1].sequence_number,
                "approximateArrivalOfFirstRecord": iso(batch[0].arrival),
                "approximateArrivalOfLastRecord": iso(batch[-1].arrival),
                "batchSize": len(batch),
                "streamArn": self.settings.stream_arn,
            },
        }


class StreamShardPoller(Poller):
    """Reads one shard in order and feeds its batches through a StreamBatchProcessor."""

    def __init__(
        self,
        context: PollerContext,
        settings: StreamSettings,
        record_filter: RecordFilter,
        send_failure: SendFailure | None,
        trigger: str,
    ) -> None:
        super().__init__(context, name=f"{context.runtime.name}:{settings.shard_id}")
        self.settings = settings
        self.record_filter = record_filter
        self.trigger = trigger
        self.buffer: list[StreamRecord] = []
        # The last record done with (delivered, handed over or filtered out) with nothing undone before it:
        # where the shard resumes after a restart.
        self.checkpoint: str | None = None
        self._gathering_since: float | None = None
        self._read_everything = False  # the last fetch reached the end of the shard
        self.processor = StreamBatchProcessor(settings, self._invoke_batch, send_failure, pause=self.sleep)

    def fetch(self) -> list[StreamRecord]:
        """New records of the shard since the last fetch."""
        raise NotImplementedError

    def poll_once(self) -> bool:
        if len(self.buffer) < self.settings.batch_size:
            fetched = self.fetch()
            self._read_everything = len(fetched) < FETCH_LIMIT
            # Filtered-out records are dropped here, as Lambda does: they never count towards a batch.
            for record in fetched:
                if self.record_filter.keeps(record.event):
                    self.buffer.append(record)
                elif not self.buffer:
                    self.checkpoint = record.sequence_number
        if not self.buffer:
            self._gathering_since = None
            return False
        now = time.monotonic()
        if self._gathering_since is None:
            self._gathering_since = now
        window_ends = self._gathering_since + self.settings.batching_window
        if len(self.buffer) < self.settings.batch_size and now < window_ends:
            self.context.wait_for_write(self.context.writes_seen(), min(window_ends - now, 0.1))
            return True
        batch, self.buffer = self.buffer[: self.settings.batch_size], self.buffer[self.settings.batch_size :]
        self._gathering_since = None
        try:
            self.processor.process(batch)
        except StoppingError:
            return False
        except BaseException:
            # Not delivered, not parked (the worker or the destination failed): keep it for the next look.
            self.buffer[:0] = batch
            raise
        self.checkpoint = batch[-1].sequence_number
        return True

    @property
    def idle_wait(self) -> float:
        return max(self.context.poll_interval, STREAM_IDLE_WAIT_SECONDS)

    @property
    def caught_up(self) -> bool:
        return self._read_everything and not self.buffer

    @property
    def lag(self) -> int:
        """Records read from the shard and not yet done with."""
        return len(self.buffer)

    def _invoke_batch(self, batch: list[StreamRecord]) -> Invocation:
        invocation = self.context.runtime.invoke(
            {"Records": [record.event for record in batch]}, self.trigger, len(batch)
        )
        failed_from = self.processor.failed_from(invocation, batch)
        if invocation.ok and failed_from is not None:
            invocation.note = f"partial ({len(invocation.payload['batchItemFailures'])} failed)"
        self.context.report(invocation)
        return invocation
