"""What a parked message means. A queue DLQ holds the command itself (a `CommandMessage`). A stream
consumer's failed batch is parked whole in the failed-batches bucket: Lambda writes its invocation record
there with the payload (the event exactly as the function was invoked with it), and the bucket's notice of
the new object is the parked message; redrive invokes the consumer with that payload, whatever the stream
still holds. (An SQS on-failure destination, which only points at a shard's sequence-number range, is read
too: the records are fetched from the stream while it still holds them, 24 hours.)"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from eventcore.errors import error_code
from eventcore.messaging.inbound import MalformedMessageError, parse_command_message, read_published_event
from eventcore.write.dynamodb_store import commit_from_item

if TYPE_CHECKING:
    from ops.target import Target

BATCH_INFO_KEYS = ("DDBStreamBatchInfo", "KinesisBatchInfo")
MAX_GET_RECORDS_CALLS = 50  # a failed batch is at most 10,000 records; this bounds a range gone wrong


class RecordsUnavailableError(Exception):
    """The stream no longer holds the range (past its retention) or cannot be read."""


class ParkedBatchGoneError(RecordsUnavailableError):
    """The object a failed-batches notice names is not in the bucket: a redrive took the batch and deleted it
    but not its notice (it deletes the object first), a person removed it on purpose, or it expired."""


# What S3 answers for a missing key: NoSuchKey to GetObject (404 to a HEAD). A 403 is not one of them: without
# s3:ListBucket, S3 answers a missing key with AccessDenied, which cannot be told from a denied read.
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass
class FailureRecord:
    """Lambda's on-failure record for a stream batch."""

    condition: str
    function_arn: str
    attempts: int
    source: str  # "dynamodb" or "kinesis"
    stream_arn: str
    shard_id: str
    start: str
    end: str
    batch_size: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, body: str) -> FailureRecord | None:
        try:
            document = json.loads(body)
        except ValueError:
            return None
        key = next((k for k in BATCH_INFO_KEYS if isinstance(document, dict) and k in document), None)
        if key is None:
            return None
        info, context = document[key], document.get("requestContext", {})
        return cls(
            condition=str(context.get("condition", "")),
            function_arn=str(context.get("functionArn", "")),
            attempts=int(context.get("approximateInvokeCount", 0)),
            source="dynamodb" if key == "DDBStreamBatchInfo" else "kinesis",
            stream_arn=str(info["streamArn"]),
            shard_id=str(info["shardId"]),
            start=str(info["startSequenceNumber"]),
            end=str(info["endSequenceNumber"]),
            batch_size=int(info.get("batchSize", 0)),
            raw=document,
        )


@dataclass(frozen=True, slots=True)
class ParkedBatch:
    """A failed batch as Lambda parked it in S3: its failure record, and the event it failed with."""

    bucket: str
    key: str
    failure: FailureRecord
    event: dict[str, Any]
    failed_at: str


def notice_objects(body: str) -> list[tuple[str, str]]:
    """The (bucket, key) of each new object an S3 event notification names; none for S3's test event."""
    try:
        document = json.loads(body)
    except ValueError:
        return []
    found = []
    for record in document.get("Records", []) if isinstance(document, dict) else []:
        if str(record.get("eventName", "")).startswith("ObjectCreated"):
            s3 = record.get("s3", {})
            found.append((s3["bucket"]["name"], unquote_plus(s3["object"]["key"])))
    return found


def load_parked_batch(target: Target, bucket: str, key: str) -> ParkedBatch:
    """The invocation record Lambda wrote for a failed batch, with its payload. ParkedBatchGoneError if the
    bucket does not hold it (any more)."""
    try:
        body = target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in MISSING_OBJECT_CODES:
            raise ParkedBatchGoneError(f"s3://{bucket}/{key} is gone: {error_code(exc)}") from exc
        raise RecordsUnavailableError(f"s3://{bucket}/{key}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise RecordsUnavailableError(f"s3://{bucket}/{key}: {type(exc).__name__}: {exc}") from exc
    failure = FailureRecord.parse(body.decode())
    if failure is None:
        raise RecordsUnavailableError(f"s3://{bucket}/{key} is not a Lambda invocation record")
    payload = failure.raw.get("payload")
    event = json.loads(payload) if isinstance(payload, str) else payload
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise RecordsUnavailableError(f"s3://{bucket}/{key} holds no payload with the batch's records")
    return ParkedBatch(bucket, key, failure, event, str(failure.raw.get("timestamp", "")))


def decode_delivered(record: dict[str, Any], source: str) -> dict[str, Any]:
    """One record of a delivered batch (the Lambda event's shape) as the consumer reads it."""
    if source == "kinesis":
        kinesis = record["kinesis"]
        raw = {
            "SequenceNumber": kinesis["sequenceNumber"],
            "PartitionKey": kinesis["partitionKey"],
            "Data": base64.b64decode(kinesis["data"]),
        }
        return decode(raw, source)
    return decode(record, source)


def describe_command(body: str) -> dict[str, Any]:
    """A queued command as an operator reads it, or why it is not one."""
    try:
        message = parse_command_message(body)
    except MalformedMessageError as error:
        return {"readable": False, "problem": str(error), "body": body[:2000]}
    return {
        "readable": True,
        "command_type": message.command_type,
        "command_id": message.command_id,
        "correlation_id": message.correlation_id,
        "causation_id": message.causation_id,
        "payload": message.payload,
    }


def fetch(target: Target, failure: FailureRecord) -> list[dict[str, Any]]:
    """The raw records of the failed range, as GetRecords returns them."""
    if failure.source == "kinesis":
        client = target.client("kinesis")
        # By name (the ARN's last part): both Kinesis and moto take it.
        position = {
            "StreamName": failure.stream_arn.rsplit("/", 1)[-1],
            "StartingSequenceNumber": failure.start,
        }
    else:
        client = target.client("dynamodbstreams")
        position = {"StreamArn": failure.stream_arn, "SequenceNumber": failure.start}
    try:
        iterator = client.get_shard_iterator(
            ShardId=failure.shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", **position
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        end = int(failure.end)
        for _ in range(MAX_GET_RECORDS_CALLS):
            if iterator is None:
                break
            page = client.get_records(ShardIterator=iterator)
            for record in page.get("Records", []):
                number = int(_sequence_number(record, failure.source))
                if number > end:
                    return records
                records.append(record)
            if records and int(_sequence_number(records[-1], failure.source)) >= end:
                return records
            if not page.get("Records") and page.get("MillisBehindLatest", 1) == 0:
                break
            iterator = page.get("NextShardIterator")
    except Exception as exc:
        raise RecordsUnavailableError(
            f"cannot read {failure.shard_id} of {failure.stream_arn} from {failure.start}: "
            f"{type(exc).__name__}: {exc} (the stream keeps records 24 h)"
        ) from exc
    if not records:
        raise RecordsUnavailableError(
            f"the stream no longer holds {failure.start}..{failure.end} of {failure.shard_id}"
            " (past its retention)"
        )
    return records


def _sequence_number(record: dict[str, Any], source: str) -> str:
    return str(record["SequenceNumber"] if source == "kinesis" else record["dynamodb"]["SequenceNumber"])


def decode(record: dict[str, Any], source: str) -> dict[str, Any]:
    """One fetched record as the consumer reads it: a commit's events, or a CloudEvent; or why it is not."""
    if source == "dynamodb":
        image = record.get("dynamodb", {}).get("NewImage")
        decoded: dict[str, Any] = {
            "sequence_number": record["dynamodb"]["SequenceNumber"],
            "event_name": record.get("eventName"),
        }
        try:
            commit = commit_from_item(image or {})
        except Exception as exc:
            return {**decoded, "readable": False, "problem": f"{type(exc).__name__}: {exc}"}
        return {
            **decoded,
            "readable": True,
            "stream": commit.stream_id,
            "version": commit.version,
            "events": [event.event_type for event in commit.events],
            "command_id": commit.command_id,
            "correlation_id": commit.correlation_id,
            "causation_id": commit.causation_id,
        }
    data: bytes = record["Data"]
    decoded = {"sequence_number": record["SequenceNumber"], "partition_key": record["PartitionKey"]}
    try:
        event = read_published_event(data)
    except MalformedMessageError as error:
        return {
            **decoded,
            "readable": False,
            "problem": str(error),
            "data": data[:500].decode(errors="replace"),
        }
    return {
        **decoded,
        "readable": True,
        "event_id": event.event_id,
        "event_type": f"{event.event_type}.v{event.schema_version}",
        "subject": event.subject,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
    }


def lambda_event(records: list[dict[str, Any]], failure: FailureRecord, region: str) -> dict[str, Any]:
    """The records as the event source mapping delivers them to the function."""
    if failure.source == "kinesis":
        return {"Records": [_kinesis_record(r, failure, region) for r in records]}
    return {"Records": [_dynamodb_record(r, failure, region) for r in records]}


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _kinesis_record(record: dict[str, Any], failure: FailureRecord, region: str) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": _epoch(record["ApproximateArrivalTimestamp"]),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{failure.shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": failure.function_arn,
        "awsRegion": region,
        "eventSourceARN": failure.stream_arn,
    }


def _dynamodb_record(record: dict[str, Any], failure: FailureRecord, region: str) -> dict[str, Any]:
    change = dict(record["dynamodb"])
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = _epoch(change["ApproximateCreationDateTime"])
    return {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": failure.stream_arn,
    }


def matches(pattern: Any, value: Any) -> bool:
    """Lambda's filter-pattern rules for what the templates use: nested keys, value lists, `prefix`,
    `anything-but`, `exists`. Records a mapping would have filtered out are not re-delivered."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, sub in pattern.items():
            if isinstance(sub, list) and any(isinstance(c, dict) and "exists" in c for c in sub):
                wanted = next(c["exists"] for c in sub if isinstance(c, dict) and "exists" in c)
                if (key in value) != bool(wanted):
                    return False
                continue
            if key not in value or not matches(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        return any(_matches_one(condition, value) for condition in pattern)
    return bool(pattern == value)


def _matches_one(condition: Any, value: Any) -> bool:
    if isinstance(condition, dict):
        if "prefix" in condition:
            return isinstance(value, str) and value.startswith(condition["prefix"])
        if "anything-but" in condition:
            excluded = condition["anything-but"]
            return value not in (excluded if isinstance(excluded, list) else [excluded])
        return False
    return bool(condition == value)


def kept_by_filters(event_record: dict[str, Any], filters: list[dict[str, Any]], source: str) -> bool:
    """Whether a delivered-shape record passes the mapping's FilterCriteria (no filters: every record)."""
    if not filters:
        return True
    view = dict(event_record)
    if source == "kinesis":
        try:
            view = {
                **event_record["kinesis"],
                "data": json.loads(base64.b64decode(event_record["kinesis"]["data"])),
            }
        except ValueError:
            return False  # Lambda drops non-JSON data whenever a filter reads `data`
    return any(matches(json.loads(f["Pattern"]), view) for f in filters)
