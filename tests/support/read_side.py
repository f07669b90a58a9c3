"""Plumbing for read-side tests: Lambda's DynamoDB Streams and Kinesis event shapes (built from commits, or
read back from what moto holds), order histories, and an event source mapping's checkpoint semantics
(a batch's lowest reported failure is where the next delivery starts)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from eventcore import Commit, commit_to_item, fingerprint
from orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderLine,
    OrderShipped,
    order_decider,
    order_events,
)
from tests.support.aws import resource, template

if TYPE_CHECKING:
    from eventcore import Event

REGION = "eu-west-1"
ACCOUNT = "123456789012"
LOG_STREAM_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-event-log/stream/2026-11-26T10:00:00.000"
KINESIS_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/orders-microsystem-dev-order-events"
T0 = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)


# -- order histories -----------------------------------------------------------------------------------------


def created(
    order_id: str, customer_id: str = "customer-alice", *, at: datetime = T0, **changes: Any
) -> OrderCreated:
    fields: dict[str, Any] = {
        "order_id": order_id,
        "customer_id": customer_id,
        "lines": (
            OrderLine(
                sku="SKU-TEA-001", name="Green tea, 100 g", quantity=2, unit_price=1250, line_total=2500
            ),
            OrderLine(sku="SKU-MUG-001", name="Stoneware mug", quantity=1, unit_price=1800, line_total=1800),
        ),
        "currency": "EUR",
        "subtotal": 4300,
        "discount": 430,
        "campaign_code": "WELCOME10",
        "shipping": 495,
        "total": 4365,
        "destination_country": "NL",
        "placed_at": at,
    }
    return OrderCreated(**{**fields, **changes})


def lifecycle(
    order_id: str, customer_id: str = "customer-alice", *, steps: int = 3, at: datetime = T0
) -> list[Event]:
    """Created, confirmed, shipped (or cancelled, when `steps` is negative): a valid order history."""
    events: list[Event] = [created(order_id, customer_id, at=at)]
    if abs(steps) >= 2:
        events.append(
            OrderConfirmed(
                order_id=order_id, payment_id=f"pay-{order_id}", confirmed_at=at + timedelta(minutes=1)
            )
        )
    if steps >= 3:
        events.append(
            OrderShipped(
                order_id=order_id,
                carrier="PostNL",
                tracking_number=f"TR-{order_id[:8]}",
                shipped_at=at + timedelta(hours=2),
            )
        )
    if steps <= -1:
        events.append(
            OrderCancelled(order_id=order_id, reason="customer_request", cancelled_at=at + timedelta(hours=1))
        )
    return events


def commit_of(
    order_id: str,
    version: int,
    events: Sequence[Event],
    *,
    at: datetime | None = None,
    correlation_id: str | None = "corr-1",
) -> Commit:
    moment = (at or T0 + timedelta(minutes=version)).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return Commit(
        stream_id=order_decider.stream_id(order_id),
        version=version,
        events=tuple(
            order_events.encode(
                e,
                event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/{version + i}")),
                recorded_at=moment,
            )
            for i, e in enumerate(events)
        ),
        command_id=f"cmd-{order_id}-{version}",
        fingerprint=fingerprint({"v": version}),
        committed_at=moment,
        correlation_id=correlation_id,
    )


def commits_for(order_id: str, events: Sequence[Event], *, per_commit: int = 1) -> list[Commit]:
    """The order's history as commits of `per_commit` events (the core allows several per command)."""
    commits = []
    for start in range(0, len(events), per_commit):
        commits.append(commit_of(order_id, start + 1, events[start : start + per_commit]))
    return commits


# -- Lambda event shapes -------------------------------------------------------------------------------------


def ddb_record(
    commit: Commit | None,
    sequence_number: int | str,
    *,
    image: dict[str, Any] | None = None,
    keys: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A DynamoDB Streams record as Lambda delivers it (NEW_IMAGE). `image` overrides the commit's item."""
    item = image if image is not None else commit_to_item(commit)  # type: ignore[arg-type]
    if keys is None:
        keys = {"stream": item["stream"], "version": item["version"]}
    return {
        "eventID": uuid.uuid5(uuid.NAMESPACE_OID, str(sequence_number)).hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": 1795688100,
            "Keys": keys,
            "NewImage": item,
            "SequenceNumber": str(sequence_number),
            "SizeBytes": len(json.dumps(item)),
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": LOG_STREAM_ARN,
    }


def ddb_event(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def sequence_number(position: int) -> str:
    """Stream sequence numbers: numeric strings, increasing along the shard."""
    return str(100000000000000000000 + position)


def kinesis_record(
    data: bytes | str | dict[str, Any], sequence: int | str, partition_key: str
) -> dict[str, Any]:
    if isinstance(data, dict):
        data = json.dumps(data)
    raw = data.encode() if isinstance(data, str) else data
    sequence = str(sequence)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(raw).decode(),
            "approximateArrivalTimestamp": 1795688100.123,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/orders-microsystem-dev-sales-analytics-projector",
        "awsRegion": REGION,
        "eventSourceARN": KINESIS_ARN,
    }


def function_environment(logical_id: str) -> dict[str, Any]:
    """The function's environment as the template declares it (Globals merged, Refs unresolved)."""
    globals_env = template()["Globals"]["Function"]["Environment"]["Variables"]
    own = resource(logical_id)["Properties"].get("Environment", {}).get("Variables", {})
    return {**globals_env, **own}


# -- reading what moto holds ---------------------------------------------------------------------------------


def read_log_stream(dynamodb: Any, streams: Any, table_name: str) -> list[dict[str, Any]]:
    """Every record of the table's DynamoDB stream, shaped as Lambda delivers them."""
    arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            for raw in page["Records"]:
                body = dict(raw["dynamodb"])
                body["ApproximateCreationDateTime"] = int(body["ApproximateCreationDateTime"].timestamp())
                records.append(
                    {
                        **raw,
                        "awsRegion": REGION,
                        "eventVersion": "1.1",
                        "dynamodb": body,
                        "eventSourceARN": arn,
                    }
                )
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records


def read_kinesis(kinesis: Any, stream_name: str) -> dict[str, list[dict[str, Any]]]:
    """Every record of the stream per shard, in shard order, as Lambda would deliver them."""
    shards: dict[str, list[dict[str, Any]]] = {}
    for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = []
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator)
            records += [
                kinesis_record(r["Data"], r["SequenceNumber"], r["PartitionKey"]) for r in page["Records"]
            ]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
        shards[shard["ShardId"]] = records
    return shards


# -- an event source mapping's delivery ----------------------------------------------------------------------


def deliver(
    handler: Callable[[list[dict[str, Any]]], dict[str, Any]],
    records: Sequence[dict[str, Any]],
    batch_sizes: Callable[[], int] | int = 100,
    *,
    max_invocations: int = 10_000,
) -> int:
    """Deliver `records` (one shard, in order) the way Lambda does with ReportBatchItemFailures: a batch
    whose response names failures is delivered again from the lowest failed sequence number. Returns the
    number of invocations; raises if the shard never drains (a record failing forever)."""
    position, invocations = 0, 0
    while position < len(records):
        size = batch_sizes if isinstance(batch_sizes, int) else batch_sizes()
        batch = list(records[position : position + size])
        response = handler(batch)
        invocations += 1
        if invocations > max_invocations:
            raise AssertionError(f"shard stuck at position {position}")
        failed = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
        positions = [i for i, record in enumerate(batch) if record_sequence(record) in failed]
        position += min(positions) if positions else len(batch)
    return invocations


def record_sequence(record: dict[str, Any]) -> str:
    if "dynamodb" in record:
        return record["dynamodb"]["SequenceNumber"]
    return record["kinesis"]["sequenceNumber"]
