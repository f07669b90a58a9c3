"""What every batch consumer answers Lambda, written once: the partial batch response, the frame of a
change-record consumer (projector, publisher) with its failure report, the frame around Powertools' batch
processing for the Kinesis and SQS consumers, and an SQS FIFO batch's message groups handled concurrently.
The frames of the consumers that act (`process_batch`, `process_queued_batch`, `process_fifo_groups`) hold
every batch in the standby region; those that derive (projectors, publishers, analytics) always run.
All answer an empty or foreign-shaped batch, and report it, instead of raising; a batch where every record
failed is answered with every record in its failures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType, SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from eventcore.read.change_records import read_change_records
from eventcore.regions import RegionPassiveError, active_region

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.batch import BasePartialBatchProcessor
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from eventcore.read.change_records import ChangeRecord

BatchResponse = dict[str, list[dict[str, str]]]

# Where each event source puts a record's identifier, the one Lambda expects back in `batchItemFailures`.
_IDENTIFIERS: dict[EventType, tuple[str, str]] = {
    EventType.KinesisDataStreams: ("kinesis", "sequenceNumber"),
    EventType.DynamoDBStreams: ("dynamodb", "SequenceNumber"),
}


@dataclass(frozen=True, slots=True)
class RecordFailure:
    sequence_number: str
    stream_id: str | None
    reason: str


class BatchOutcome(Protocol):
    """What a change-record consumer did with one batch: the records to report, and its figures."""

    @property
    def failures(self) -> list[RecordFailure]: ...

    def figures(self) -> Mapping[str, int]:
        """Metric name -> value for this batch (counts)."""
        ...


def batch_response(failed_sequence_numbers: Sequence[str]) -> BatchResponse:
    """Lambda's partial batch response. On a stream, Lambda checkpoints at the lowest sequence number
    reported and delivers everything from there again, so consumers must be idempotent."""
    return {"batchItemFailures": [{"itemIdentifier": number} for number in failed_sequence_numbers]}


def report_batch(
    logger: Logger, metrics: Metrics, *, done: str, records: int, outcome: BatchOutcome
) -> BatchResponse:
    """Log each failed record with its reason, emit the batch's figures, and answer Lambda. `done` says what
    happened to the records that went through ("projected", "published")."""
    for failure in outcome.failures:
        logger.error(
            f"record not {done}",
            sequence_number=failure.sequence_number,
            stream_id=failure.stream_id,
            reason=failure.reason,
        )
    for problem in getattr(outcome, "problems", ()):
        logger.error(f"batch {done}, but: {problem}")
    figures: dict[str, object] = dict(outcome.figures())
    for name, value in outcome.figures().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info(f"batch {done}", extra={"records": records, "failed": len(outcome.failures), **figures})
    return batch_response([failure.sequence_number for failure in outcome.failures])


def process_change_batch(
    event: Any,
    consume: Callable[[list[ChangeRecord]], BatchOutcome],
    *,
    logger: Logger,
    metrics: Metrics,
    done: str,
) -> BatchResponse:
    """A DynamoDB Streams batch of an event log, decoded and handed to `consume` (a projector's or a
    publisher's), its outcome reported (`report_batch`). An empty or foreign-shaped batch is reported and
    answered with no failures, as `process_batch` answers it."""
    unprocessable = _unprocessable(event, EventType.DynamoDBStreams, logger=logger, metrics=metrics)
    if unprocessable is not None:
        return unprocessable
    records = read_change_records(event)
    return report_batch(logger, metrics, done=done, records=len(records), outcome=consume(records))


def process_kinesis_batch(
    event: Any,
    consume: Callable[[list[KinesisStreamRecord]], BatchOutcome],
    *,
    logger: Logger,
    metrics: Metrics,
    done: str,
) -> BatchResponse:
    """A Kinesis batch handed whole to `consume`, for a consumer whose unit of work is the batch (sales
    analytics sums a batch's contributions before writing), its outcome reported (`report_batch`). An empty
    or foreign-shaped batch is reported and answered with no failures, as `process_batch` answers it."""
    unprocessable = _unprocessable(event, EventType.KinesisDataStreams, logger=logger, metrics=metrics)
    if unprocessable is not None:
        return unprocessable
    records = [KinesisStreamRecord(record) for record in event["Records"]]
    return report_batch(logger, metrics, done=done, records=len(records), outcome=consume(records))


def process_batch(
    event: Any,
    record_handler: Callable[[Any], None],
    processor: BasePartialBatchProcessor,
    context: LambdaContext,
    *,
    logger: Logger,
    metrics: Metrics,
    hold_while_passive: bool = True,
) -> BatchResponse:
    """Powertools' `process_partial_response`, except that a batch where every record failed still answers
    with `batchItemFailures` (never an exception, which would make Lambda retry or back off the whole batch),
    and an empty or foreign-shaped batch is reported and answered with no failures: no event source mapping
    delivers one, so there is nothing to retry, and raising would only crash-loop a hand-made invoke. In the
    standby region every batch is held (failed, to be delivered again), unless `hold_while_passive=False`:
    a consumer that knows what it may do there (the process manager records, sends nothing)."""
    processor.raise_on_entire_batch_failure = False
    unprocessable = _unprocessable(event, processor.event_type, logger=logger, metrics=metrics)
    if unprocessable is not None:
        return unprocessable
    passive = (
        _held_while_passive(event, processor.event_type, logger=logger, metrics=metrics)
        if hold_while_passive
        else None
    )
    if passive is not None:
        return passive
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return {
        "batchItemFailures": [
            {"itemIdentifier": str(item["itemIdentifier"])} for item in response.get("batchItemFailures", [])
        ]
    }


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    """An SQS message of a batch: its id (what `batchItemFailures` names), FIFO message group and body."""

    message_id: str
    group_id: str | None
    body: str


def process_queued_batch(
    event: Any,
    consume: Callable[[list[QueuedRecord]], Collection[str]],
    *,
    logger: Logger,
    metrics: Metrics,
) -> BatchResponse:
    """An SQS batch handed to `consume` whole, for a consumer that decides its records together (one commit
    for a bucket's batch, one send for a router's): `consume` answers the ids of the messages that failed,
    which Lambda delivers again. An empty or foreign-shaped batch is answered as `process_batch` does."""
    unprocessable = _unprocessable(event, EventType.SQS, logger=logger, metrics=metrics)
    if unprocessable is not None:
        return unprocessable
    passive = _held_while_passive(event, EventType.SQS, logger=logger, metrics=metrics)
    if passive is not None:
        return passive
    records = [
        QueuedRecord(
            record["messageId"], (record.get("attributes") or {}).get("MessageGroupId"), record["body"]
        )
        for record in event["Records"]
    ]
    failed = consume(records)
    return {
        "batchItemFailures": [
            {"itemIdentifier": record.message_id} for record in records if record.message_id in failed
        ]
    }


@dataclass
class FifoBatch:
    """What `process_fifo_groups` did: Lambda's answer, and what the record handler returned for each message
    it handled without error, in delivery order (for the metrics, added on the calling thread)."""

    response: BatchResponse
    results: list[Any] = field(default_factory=list)


def process_fifo_groups(
    event: Any,
    record_handler: Callable[[Any], Any],
    context: LambdaContext,
    *,
    logger: Logger,
    metrics: Metrics,
    concurrency: int,
) -> FifoBatch:
    """An SQS FIFO batch with its message groups handled concurrently, at most `concurrency` at a time, and
    each group's messages one after another in delivery order: what a group's messages do stays ordered
    (they are one aggregate's commands), and what different groups do overlaps (a slow call to a provider
    no longer waits for the previous group's).

    The partial batch response is exactly a FIFO queue's, as Powertools' `SqsFifoPartialProcessor(
    skip_group_on_error=True)` gives it (it runs each group here: Powertools 3 has no concurrent FIFO
    processor, its async one being for standard queues and Kinesis): a failed message fails every later
    message of its group in the batch, the other groups go on, and the failures are answered in delivery
    order. Messages without a group (a standard queue) are each a group of their own.

    What the handler touches runs on several threads: boto3 clients are thread-safe (clients, not
    sessions, and each built once at import), the runner's memory image is locked, Powertools' Metrics is
    not (add metrics from `results`, on this thread) and its Logger shares its keys across threads
    (`eventcore.messaging.inbound.PerThreadRecordLogger` keeps a record's keys to its thread). X-Ray
    subsegments opened on a group's thread hang under the function's segment, not under the handler's."""
    unprocessable = _unprocessable(event, EventType.SQS, logger=logger, metrics=metrics)
    if unprocessable is not None:
        return FifoBatch(unprocessable)
    passive = _held_while_passive(event, EventType.SQS, logger=logger, metrics=metrics)
    if passive is not None:
        return FifoBatch(passive)
    records: list[dict[str, Any]] = event["Records"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        group = (record.get("attributes") or {}).get("MessageGroupId") or f"(no group) {record['messageId']}"
        groups.setdefault(group, []).append(record)
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(groups)))) as pool:
        outcomes = list(
            pool.map(lambda group: _process_group(group, record_handler, context), groups.values())
        )
    failed = {message_id for failures, _ in outcomes for message_id in failures}
    results = {message_id: result for _, handled in outcomes for message_id, result in handled}
    return FifoBatch(
        batch_response([r["messageId"] for r in records if r["messageId"] in failed]),
        [results[r["messageId"]] for r in records if r["messageId"] in results],
    )


def _process_group(
    records: list[dict[str, Any]], record_handler: Callable[[Any], Any], context: LambdaContext
) -> tuple[list[str], list[tuple[str, Any]]]:
    """One message group's messages through a FIFO processor of its own (a processor keeps its batch's
    state, so none is shared between threads): the ids that failed, and each handled id's result."""
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    processor.raise_on_entire_batch_failure = False
    with processor(records, record_handler, context):
        outcomes = processor.process()
    failed = [str(item["itemIdentifier"]) for item in processor.response()["batchItemFailures"]]
    handled = [(record["messageId"], result) for status, result, record in outcomes if status == "success"]
    return failed, handled


def _held_while_passive(
    event: Any, event_type: EventType, *, logger: Logger, metrics: Metrics
) -> BatchResponse | None:
    """In the standby region (docs/failover.md) a consumer that acts (the process manager, a command
    consumer) acts on nothing: every record of the batch is answered as failed, so Lambda delivers it again
    later and nothing is lost or done twice. So too while no region is active (a planned move), except in
    the region the move is draining, and when the active-region record cannot be read (throttled,
    unreachable): held, not crashed. None where the consumer may act (or a stack in one region)."""
    try:
        active_region().require_acting()
    except RegionPassiveError as passive:
        logger.warning("this region acts on nothing now: the batch is held for later", reason=str(passive))
        metrics.add_metric(name="BatchesHeldWhilePassive", unit=MetricUnit.Count, value=1)
        section, identifier = _IDENTIFIERS.get(event_type, ("", "messageId"))
        records = event["Records"]
        return batch_response([(r[section] if section else r)[identifier] for r in records])
    return None


def _unprocessable(
    event: Any, event_type: EventType, *, logger: Logger, metrics: Metrics
) -> BatchResponse | None:
    """The answer to a batch that is no batch of this event source, reported; None for one to process."""
    problem = _batch_problem(event, event_type)
    if problem is None:
        return None
    logger.error("not a batch this consumer can process: nothing done", problem=problem)
    metrics.add_metric(name="UnprocessableBatches", unit=MetricUnit.Count, value=1)
    return {"batchItemFailures": []}


def _batch_problem(event: Any, event_type: EventType) -> str | None:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return "no records (an empty batch, or not a Lambda batch event)"
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            return f"record {position} is not an object"
        if event_type == EventType.SQS:
            if not isinstance(record.get("messageId"), str) or not isinstance(record.get("body"), str):
                return f"record {position} is not an SQS message (no messageId or body)"
            continue
        section, identifier = _IDENTIFIERS[event_type]
        body = record.get(section)
        if not isinstance(body, dict) or not isinstance(body.get(identifier), str):
            return f"record {position} is not a {event_type.value} record (no {section}.{identifier})"
    return None
