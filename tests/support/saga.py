"""The saga's plumbing for tests: moto resources for every context, and the event source mappings that
connect them, emulated the way Lambda runs them (DynamoDB stream -> publisher -> Kinesis -> consumer with
checkpoints at the first reported failure, retries then an on-failure destination; SQS FIFO -> consumer with
deletion of successes, visibility expiry for failures, and the queue's redrive policy). Every handler gets
events in the exact AWS shapes, built from what moto actually holds."""

from __future__ import annotations

import base64
import functools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

REGION = "eu-west-1"
ACCOUNT = "123456789012"


# -- CloudEvents, as the generic publisher puts them on Kinesis ---------------------------------------------


def cloudevent(
    event_type: str,
    data: dict[str, Any],
    *,
    event_id: str,
    schema_version: int = 1,
    subject: str = "aggregate-1",
    context: str = "orders",
    sequence: int = 1,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> dict[str, Any]:
    """A CloudEvent exactly as functions/event_publisher writes one (eventcore.messaging.cloudevents), for
    events no log holds: unknown types, unsupported schema versions."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": f"urn:orders-microsystem:{context}",
        "type": f"com.example.{context}.{event_type}.v{schema_version}",
        "subject": subject,
        "time": "2026-03-01T09:00:00.000000Z",
        "datacontenttype": "application/json",
        "data": data,
        "sequence": str(sequence).zfill(12),
        "partitionkey": subject,
    }
    if correlation_id:
        event["correlationid"] = correlation_id
    if causation_id:
        event["causationid"] = causation_id
    return event


# -- Lambda event shapes -------------------------------------------------------------------------------------


def kinesis_record(stream_arn: str, shard_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """One record of a Lambda Kinesis event, from a Kinesis GetRecords record."""
    arrival = record.get("ApproximateArrivalTimestamp")
    arrived = arrival.timestamp() if isinstance(arrival, datetime) else time.time()
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": arrived,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/consumer-role",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }


def kinesis_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def raw_kinesis_record(data: bytes, *, partition_key: str = "p", sequence_number: str = "1") -> dict:
    """A Kinesis GetRecords record with arbitrary bytes: for garbage nobody's publisher would produce."""
    return {"PartitionKey": partition_key, "SequenceNumber": sequence_number, "Data": data}


def sqs_record(queue_arn: str, message: dict[str, Any]) -> dict[str, Any]:
    """One record of a Lambda SQS event, from a ReceiveMessage message (AttributeNames=All)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def dynamodb_stream_record(stream_arn: str, record: dict[str, Any]) -> dict[str, Any]:
    """One record of a Lambda DynamoDB Streams event, from a DynamoDB Streams GetRecords record."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }


# -- event source mappings, emulated -------------------------------------------------------------------------


def invoke(handler: Any, event: dict[str, Any], context: Any, identifiers: list[str]) -> dict[str, Any]:
    """Invoke as Lambda would: a function error fails every record of the batch."""
    try:
        return handler(event, context) or {}
    except Exception:
        return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in identifiers]}


@dataclass
class TableStreamFeed:
    """DynamoDB stream of a table -> a function (the publisher). Delivers every new record, in order."""

    streams: Any
    table_stream_arn: str
    handler: Any
    context: Any
    _iterators: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def shards(self) -> list[str]:
        """The stream's shards, read once: a table's stream keeps its shard while a test runs."""
        description = self.streams.describe_stream(StreamArn=self.table_stream_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def pump(self) -> int:
        delivered = 0
        for shard_id in self.shards:
            iterator = (
                self._iterators.get(shard_id)
                or self.streams.get_shard_iterator(
                    StreamArn=self.table_stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            page = self.streams.get_records(ShardIterator=iterator)
            records = page["Records"]
            if records:
                event = {"Records": [dynamodb_stream_record(self.table_stream_arn, r) for r in records]}
                response = self.handler(event, self.context)
                assert not (response or {}).get("batchItemFailures"), response
                delivered += len(records)
            self._iterators[shard_id] = page["NextShardIterator"]
        return delivered


@dataclass
class KinesisFeed:
    """A Kinesis event source mapping with ReportBatchItemFailures: per shard, a checkpoint that advances to
    just before the lowest failed record; a record failing `max_attempts` times is parked (the on-failure
    destination) and skipped."""

    kinesis: Any
    stream_name: str
    handler: Any
    context: Any
    batch_size: int = 10
    max_attempts: int = 4
    parked: list[dict[str, Any]] = field(default_factory=list)
    invocations: int = 0
    _checkpoints: dict[str, str | None] = field(default_factory=dict)
    _attempts: dict[str, int] = field(default_factory=dict)
    # Per shard, the iterator just past its checkpoint, while the last read ended there (what a polling
    # mapping keeps between reads); otherwise the next read starts again from the checkpoint.
    _iterators: dict[str, str] = field(default_factory=dict)

    @property
    def stream_arn(self) -> str:
        return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{self.stream_name}"

    @functools.cached_property
    def shards(self) -> list[str]:
        """The stream's shards, read once: a stream keeps its shards while a test runs."""
        description = self.kinesis.describe_stream(StreamName=self.stream_name)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def replay_from_start(self) -> None:
        """Forget every checkpoint: the next reads start at the oldest record, as a new mapping would."""
        self._checkpoints.clear()
        self._iterators.clear()

    def pending(self, shard_id: str) -> list[dict[str, Any]]:
        return self._read(shard_id)[0]

    def _read(self, shard_id: str) -> tuple[list[dict[str, Any]], str]:
        iterator = self._iterators.pop(shard_id, None)
        if iterator is None:
            checkpoint = self._checkpoints.get(shard_id)
            request: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
            if checkpoint is None:
                request["ShardIteratorType"] = "TRIM_HORIZON"
            else:
                request |= {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "StartingSequenceNumber": checkpoint,
                }
            iterator = self.kinesis.get_shard_iterator(**request)["ShardIterator"]
        page = self.kinesis.get_records(ShardIterator=iterator, Limit=self.batch_size)
        return page["Records"], page["NextShardIterator"]

    def deliver(self, shard_id: str, *, batch_size: int | None = None, checkpoint: bool = True) -> int:
        """Invoke the handler with the shard's next batch. `checkpoint=False` forgets the outcome, as when the
        invocation times out after the work: the same records come again (a duplicate delivery)."""
        read, next_iterator = self._read(shard_id)
        records = read[: batch_size or self.batch_size]
        if not records:
            self._iterators[shard_id] = next_iterator
            return 0
        self.invocations += 1
        event = kinesis_event([kinesis_record(self.stream_arn, shard_id, r) for r in records])
        response = invoke(self.handler, event, self.context, [r["SequenceNumber"] for r in records])
        if not checkpoint:
            return len(records)
        failed = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
        last_good: str | None = self._checkpoints.get(shard_id)
        for record in records:
            number = record["SequenceNumber"]
            if number in failed:
                self._attempts[number] = self._attempts.get(number, 0) + 1
                if self._attempts[number] < self.max_attempts:
                    break
                self.parked.append(record)  # the on-failure destination gets it; the shard moves on
            last_good = number
        self._checkpoints[shard_id] = last_good
        if len(records) == len(read) and last_good == records[-1]["SequenceNumber"]:
            self._iterators[shard_id] = next_iterator
        return len(records)

    def drain(self, *, limit: int = 200) -> int:
        """Deliver until every shard is read up to its end; return how many records were delivered."""
        delivered = 0
        for _ in range(limit):
            moved = sum(self.deliver(shard) for shard in self.shards)
            if not moved:
                return delivered
            delivered += moved
        raise AssertionError(f"{self.stream_name}: still records after {limit} rounds")


@dataclass
class QueueFeed:
    """An SQS event source mapping with ReportBatchItemFailures: successes are deleted, failures become
    visible again (their visibility timeout, shortened), and the queue's redrive policy parks a message
    received more than maxReceiveCount times."""

    sqs: Any
    queue_url: str
    handler: Any
    context: Any
    batch_size: int = 10
    invocations: int = 0
    delivered: list[dict[str, Any]] = field(default_factory=list)  # every message handed to the function

    @functools.cached_property
    def queue_arn(self) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def receive(self, batch_size: int | None = None) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=batch_size or self.batch_size,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])

    def deliver(self, *, batch_size: int | None = None, acknowledge: bool = True) -> int:
        """`acknowledge=False`: the function crashed after its work, before Lambda deleted the messages."""
        messages = self.receive(batch_size)
        if not messages:
            return 0
        self.invocations += 1
        self.delivered.extend(messages)
        arn = self.queue_arn
        event = {"Records": [sqs_record(arn, m) for m in messages]}
        response = invoke(self.handler, event, self.context, [m["MessageId"] for m in messages])
        failed = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
        for message in messages:
            if acknowledge and message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        return len(messages)

    def send_again(self, messages: list[dict[str, Any]]) -> None:
        """The messages sent to the queue once more, as a redrive or a repeated sender would: the same
        bodies, groups and (on a FIFO queue) deduplication ids under a new suffix, so SQS takes them."""
        for message in messages:
            attributes = message.get("Attributes", {})
            request: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": message["Body"]}
            if "MessageGroupId" in attributes:
                request["MessageGroupId"] = attributes["MessageGroupId"]
                request["MessageDeduplicationId"] = f"{attributes['MessageDeduplicationId'][:100]}-again"
            self.sqs.send_message(**request)

    def drain(self, *, limit: int = 200) -> int:
        delivered = 0
        for _ in range(limit):
            moved = self.deliver()
            if not moved:
                return delivered
            delivered += moved
        raise AssertionError(f"{self.queue_url}: still messages after {limit} rounds")
