"""Dead-letter queues: which there are and what they hold, and putting parked messages back to work.

Redrive is done by hand (receive, send, delete), not with SQS's `StartMessageMoveTask`: it works against
moto as on AWS, and it is FIFO-safe by construction. A parked command goes back to its source queue with
its message group and a deduplication id derived from its command id (the one its producer used), and is
deleted from the DLQ only once the send succeeded; a second copy (a retried redrive) is dropped by SQS within
five minutes and recognised by the Order's log after that. Within a message group, a message left behind
(unreadable, or its send failed) holds back the group's later ones, so the group keeps its order.

A stream consumer's failed batch is parked whole in the failed-batches bucket, and the bucket's notices
queue is its DLQ: redrive invokes the consumer with the batch exactly as it failed (the payload Lambda
wrote), however long ago, and deletes the object and then the notice only if the consumer then reports no
failure. A notice whose object is gone (a redrive that deleted the object and not the notice, a batch
removed by hand, or expired) is done: nothing can be redriven from it, so it is deleted, and the report
lists the object. An SQS on-failure record, which only points at the stream, is redriven from the stream
while it still holds the records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventcore.messaging.inbound import deduplication_id
from ops.records import (
    FailureRecord,
    ParkedBatchGoneError,
    RecordsUnavailableError,
    decode,
    decode_delivered,
    describe_command,
    fetch,
    kept_by_filters,
    load_parked_batch,
    notice_objects,
)
from ops.records import lambda_event as to_lambda_event
from ops.target import TargetError

if TYPE_CHECKING:
    from ops.target import Target
    from ops.template import DeadLetterQueue

RECEIVE_LIMIT = 10
HOLD_SECONDS = 300  # messages left behind stay invisible until the redrive ends, then are released

Progress = Callable[[int], None]


@dataclass
class QueueStatus:
    logical_id: str
    url: str
    parks: str  # what parks messages here
    visible: int
    in_flight: int
    oldest_age_seconds: float | None
    age_source: str  # "cloudwatch", "peek" or "" (empty queue)

    @property
    def depth(self) -> int:
        return self.visible + self.in_flight


def describe_source(target: Target, dlq: DeadLetterQueue) -> str:
    if dlq.kind == "redrive" and dlq.source_queue:
        policy = target.shape.resources[dlq.source_queue]["Properties"]["RedrivePolicy"]
        return f"{dlq.source_queue} after {policy.get('maxReceiveCount')} receives"
    if dlq.kind == "failed-batches" and dlq.bucket:
        consumers = sorted({m.function for m in target.shape.mappings_parking_in(dlq.bucket)})
        return f"failed batches of {', '.join(consumers)}, kept whole in {dlq.bucket}"
    assert dlq.mapping is not None
    return f"{dlq.mapping.function} <- {dlq.mapping.source} ({dlq.mapping.source_kind}) failed batches"


def list_queues(target: Target) -> list[QueueStatus]:
    statuses = []
    for dlq in target.shape.dead_letter_queues():
        url = target.physical(dlq.logical_id)
        attributes = target.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        visible = int(attributes.get("ApproximateNumberOfMessages", 0))
        in_flight = int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
        age, source = (None, "")
        if visible + in_flight:
            age, source = _oldest_age(target, url)
        statuses.append(
            QueueStatus(dlq.logical_id, url, describe_source(target, dlq), visible, in_flight, age, source)
        )
    return statuses


def _oldest_age(target: Target, url: str) -> tuple[float | None, str]:
    """On AWS, CloudWatch's ApproximateAgeOfOldestMessage (no receive, no side effect); locally (moto has
    no SQS metrics) the oldest SentTimestamp among the messages a receive returns, released at once."""
    if not target.local:
        now = time.time()
        points = (
            target.client("cloudwatch")
            .get_metric_statistics(
                Namespace="AWS/SQS",
                MetricName="ApproximateAgeOfOldestMessage",
                Dimensions=[{"Name": "QueueName", "Value": url.rsplit("/", 1)[-1]}],
                StartTime=now - 900,
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            )
            .get("Datapoints", [])
        )
        if points:
            return max(points, key=lambda p: p["Timestamp"])["Maximum"], "cloudwatch"
    # Held, then released, rather than received with VisibilityTimeout 0: moto then hides a FIFO group's head.
    messages = _receive(target, url, RECEIVE_LIMIT, visibility=30)
    _release(target, url, messages)
    sent = [
        int(m["Attributes"]["SentTimestamp"]) / 1000 for m in messages if "SentTimestamp" in m["Attributes"]
    ]
    return (time.time() - min(sent), "peek") if sent else (None, "")


def resolve(target: Target, name: str) -> DeadLetterQueue:
    """A DLQ by logical id (any case), queue name or URL."""
    queues = target.shape.dead_letter_queues()
    for dlq in queues:
        url = target.physical_ids.get(dlq.logical_id, "")
        if name.lower() == dlq.logical_id.lower() or name in (url, url.rsplit("/", 1)[-1]):
            return dlq
    known = ", ".join(dlq.logical_id for dlq in queues)
    raise TargetError(f"no dead-letter queue {name!r} in {target.stack_name}; there are: {known}")


def _receive(target: Target, url: str, count: int, visibility: int) -> list[dict[str, Any]]:
    return list(
        target.client("sqs")
        .receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(count, RECEIVE_LIMIT),
            VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        .get("Messages", [])
    )


def _release(target: Target, url: str, messages: list[dict[str, Any]]) -> None:
    """Make held messages visible again at once."""
    for start in range(0, len(messages), RECEIVE_LIMIT):
        chunk = messages[start : start + RECEIVE_LIMIT]
        target.client("sqs").change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def _hold_all(target: Target, url: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` messages, each received once and held invisible (the caller releases them)."""
    held: list[dict[str, Any]] = []
    while len(held) < limit:
        batch = _receive(target, url, limit - len(held), visibility=HOLD_SECONDS)
        if not batch:
            break
        held += batch
    return held


def show(target: Target, dlq: DeadLetterQueue, limit: int = 10) -> list[dict[str, Any]]:
    """The parked messages, decoded; they stay in the queue, visible again when this returns. On a FIFO
    queue, a message group's later messages stay hidden behind its first ones (SQS's FIFO order)."""
    url = target.physical(dlq.logical_id)
    held = _hold_all(target, url, limit)
    try:
        return [_describe(target, dlq, message) for message in held]
    finally:
        _release(target, url, held)


def _describe(target: Target, dlq: DeadLetterQueue, message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    described: dict[str, Any] = {
        "message_id": message["MessageId"],
        "sent_at": _iso(int(attributes.get("SentTimestamp", 0)) / 1000),
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
    }
    if "MessageGroupId" in attributes:
        described["message_group_id"] = attributes["MessageGroupId"]
    if dlq.kind == "redrive":
        return {**described, "command": describe_command(message["Body"])}
    if dlq.kind == "failed-batches":
        return {
            **described,
            "batches": [_describe_batch(target, *where) for where in notice_objects(message["Body"])],
        }
    failure = FailureRecord.parse(message["Body"])
    if failure is None:
        return {**described, "failure": {"readable": False, "body": message["Body"][:2000]}}
    described["failure"] = {
        "readable": True,
        "condition": failure.condition,
        "function_arn": failure.function_arn,
        "attempts": failure.attempts,
        "stream_arn": failure.stream_arn,
        "shard_id": failure.shard_id,
        "sequence_numbers": [failure.start, failure.end],
        "batch_size": failure.batch_size,
    }
    try:
        described["records"] = [decode(record, failure.source) for record in fetch(target, failure)]
    except RecordsUnavailableError as error:
        described["records_unavailable"] = str(error)
    return described


def _describe_batch(target: Target, bucket: str, key: str) -> dict[str, Any]:
    try:
        batch = load_parked_batch(target, bucket, key)
    except ParkedBatchGoneError as error:
        return {
            "object": f"s3://{bucket}/{key}",
            "readable": False,
            "gone": True,
            "problem": f"{error}: already redriven, removed or expired; a redrive deletes this notice",
        }
    except RecordsUnavailableError as error:
        return {"object": f"s3://{bucket}/{key}", "readable": False, "problem": str(error)}
    failure = batch.failure
    return {
        "object": f"s3://{bucket}/{key}",
        "readable": True,
        "failed_at": batch.failed_at,
        "condition": failure.condition,
        "function_arn": failure.function_arn,
        "attempts": failure.attempts,
        "stream_arn": failure.stream_arn,
        "shard_id": failure.shard_id,
        "sequence_numbers": [failure.start, failure.end],
        "batch_size": failure.batch_size,
        "records": [decode_delivered(record, failure.source) for record in batch.event["Records"]],
    }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass
class RedriveReport:
    moved: int = 0
    left: list[tuple[str, str]] = field(default_factory=list)  # (message id, why it is still parked)
    deduplication_ids: list[str] = field(default_factory=list)
    # parked batches (s3://bucket/key) already gone from the bucket; `cleared`: their notices, deleted
    gone: list[str] = field(default_factory=list)
    cleared: int = 0

    @property
    def ok(self) -> bool:
        return not self.left


def redrive(
    target: Target, dlq: DeadLetterQueue, limit: int = 1000, progress: Progress | None = None
) -> RedriveReport:
    """Move up to `limit` parked messages back to work; what cannot be moved stays parked, with the why."""
    url = target.physical(dlq.logical_id)
    report = RedriveReport()
    left_behind: list[dict[str, Any]] = []
    blocked_groups: set[str] = set()
    handled = 0
    try:
        while handled < limit:
            batch = _receive(target, url, min(RECEIVE_LIMIT, limit - handled), visibility=HOLD_SECONDS)
            if not batch:
                break
            for message in batch:
                handled += 1
                group = message.get("Attributes", {}).get("MessageGroupId")
                if group is not None and group in blocked_groups:
                    report.left.append(
                        (message["MessageId"], f"held back behind an earlier message of {group}")
                    )
                    left_behind.append(message)
                    continue
                gone = len(report.gone)
                if dlq.kind == "redrive":
                    why = _redrive_command(target, dlq, message, report)
                elif dlq.kind == "failed-batches":
                    why = _redrive_parked_batches(target, message, report)
                else:
                    why = _redrive_failure(target, dlq, message)
                if why is None:
                    target.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    # a notice whose every batch was already gone is cleared, not moved: nothing was redriven
                    cleared = len(report.gone) - gone == len(notice_objects(message["Body"])) > 0
                    report.cleared += cleared
                    report.moved += not cleared
                else:
                    report.left.append((message["MessageId"], why))
                    left_behind.append(message)
                    if group is not None:
                        blocked_groups.add(group)
                if progress is not None:
                    progress(1)
    finally:
        _release(target, url, left_behind)
    return report


def _redrive_command(
    target: Target, dlq: DeadLetterQueue, message: dict[str, Any], report: RedriveReport
) -> str | None:
    """Send a parked command back to its queue; None once sent, else why it was not."""
    assert dlq.source_queue is not None
    command = describe_command(message["Body"])
    if not command["readable"]:
        return f"not a command message, it would fail again: {command['problem']}"
    entry: dict[str, Any] = {"QueueUrl": target.physical(dlq.source_queue), "MessageBody": message["Body"]}
    attributes = message.get("MessageAttributes")
    if attributes:
        entry["MessageAttributes"] = attributes
    group = message.get("Attributes", {}).get("MessageGroupId")
    if group is not None:
        entry["MessageGroupId"] = group
        entry["MessageDeduplicationId"] = deduplication_id(command["command_id"])
        report.deduplication_ids.append(entry["MessageDeduplicationId"])
    try:
        target.client("sqs").send_message(**entry)
    except Exception as exc:  # left parked: nothing was sent
        return f"send to {dlq.source_queue} failed: {type(exc).__name__}: {exc}"
    return None


def _redrive_failure(target: Target, dlq: DeadLetterQueue, message: dict[str, Any]) -> str | None:
    """Invoke the consumer with the records a failure record points at; None once it took them all."""
    assert dlq.mapping is not None
    failure = FailureRecord.parse(message["Body"])
    if failure is None:
        return "not a Lambda on-failure record"
    try:
        records = fetch(target, failure)
    except RecordsUnavailableError as error:
        return str(error)
    properties = target.shape.resources[dlq.mapping.logical_id].get("Properties", {})
    filters = properties.get("FilterCriteria", {}).get("Filters", [])
    event = to_lambda_event(records, failure, target.region)
    event["Records"] = [r for r in event["Records"] if kept_by_filters(r, filters, failure.source)]
    if not event["Records"]:
        return None  # the mapping would deliver none of them: nothing is owed to the consumer
    ok, payload = target.invoke(dlq.mapping.function, event)
    if not ok:
        return f"{dlq.mapping.function} failed again: {json.dumps(payload)[:300]}"
    failures = payload.get("batchItemFailures") if isinstance(payload, dict) else None
    if failures:
        return f"{dlq.mapping.function} failed {len(failures)} of {len(event['Records'])} records again"
    return None


def _redrive_parked_batches(target: Target, message: dict[str, Any], report: RedriveReport) -> str | None:
    """Invoke each consumer with the batch it failed, as it failed; None once every one took its batch (its
    object is then deleted: the notice goes with it). An object already gone counts as taken: there is
    nothing left to redrive, and keeping its notice would keep the DLQ's alarm firing for ever."""
    for bucket, key in notice_objects(message["Body"]):
        try:
            batch = load_parked_batch(target, bucket, key)
        except ParkedBatchGoneError:
            report.gone.append(f"s3://{bucket}/{key}")
            continue
        except RecordsUnavailableError as error:
            return str(error)
        function = _function_of(target, batch.failure.function_arn)
        if function is None:
            return f"no function of this stack is {batch.failure.function_arn}"
        ok, payload = target.invoke(function, batch.event)
        if not ok:
            return f"{function} failed again: {json.dumps(payload)[:300]}"
        failures = payload.get("batchItemFailures") if isinstance(payload, dict) else None
        if failures:
            return f"{function} failed {len(failures)} of {len(batch.event['Records'])} records again"
        target.client("s3").delete_object(Bucket=bucket, Key=key)
    return None


def _function_of(target: Target, function_arn: str) -> str | None:
    """The logical id of the function an ARN (or a name) names."""
    name = function_arn.split(":function:")[-1].split(":")[0]
    return next((f for f in target.shape.functions if target.function_name(f) == name), None)
