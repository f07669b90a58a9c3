"""An S3 bucket as the on-failure destination of stream event source mappings (samples/s3destination), as
Lambda does it: one object per discarded batch, at `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/
YYYY-MM-DDTHH.MM.SS-<UUID>`, holding the invocation record and, as `payload`, the batch exactly as the
function was invoked with it (a JSON string). An SQS destination beside it still gets the record alone."""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import pytest

from localcloud import LocalCloud
from localcloud.triggers import mapping_uuid
from support import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = Path(__file__).parent / "samples" / "s3destination" / "template.yaml"
KEY = re.compile(
    r"aws/lambda/(?P<mapping>[0-9a-f-]{36})/(?P<shard>[^/]+)/(?P<day>\d{4}/\d{2}/\d{2})/"
    r"(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2})-[0-9a-f-]{36}"
)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(TEMPLATE, port=0, moto_port=0, output=io.StringIO(), gateway=False) as running:
        yield running


def discarded(cloud: LocalCloud, mapping: str, *markers: str) -> list[tuple[str, dict[str, Any]]]:
    """(key, invocation record) of every object the mapping (by logical id) wrote that holds one of
    `markers` (Kinesis data is base64 in the payload: its sequence numbers are not)."""
    s3, bucket = cloud.client("s3"), cloud.physical_id("Discarded")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"aws/lambda/{mapping_uuid(mapping)}/")
    found = []
    for summary in listed.get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=summary["Key"])["Body"].read().decode()
        if any(marker in body for marker in markers):
            found.append((summary["Key"], json.loads(body)))
    return found


def seen_event(cloud: LocalCloud, function: str, request_id: str) -> Any:
    """The event `function` was invoked with in request `request_id` (the sample function keeps each one)."""
    key = f"seen/{function}/{request_id}.json"
    body = cloud.client("s3").get_object(Bucket=cloud.physical_id("Discarded"), Key=key)["Body"].read()
    return json.loads(body)


def assert_key_matches(key: str, mapping: str, shard_id: str, timestamp: str) -> None:
    parts = KEY.fullmatch(key)
    assert parts is not None, key
    assert parts["mapping"] == mapping_uuid(mapping)
    assert parts["shard"] == shard_id
    assert parts["day"] == timestamp[:10].replace("-", "/")
    assert parts["stamp"] == timestamp[:19].replace(":", ".")


def test_a_failing_dynamodb_batch_leaves_one_object_with_the_batch_as_invoked(cloud: LocalCloud) -> None:
    marker = f"m-{uuid.uuid4().hex[:8]}"
    table = cloud.physical_id("Changes")
    # GIVEN a batch of three table changes, one of which fails the consumer every time
    items: list[dict[str, Any]] = [{"id": {"S": f"{marker}-{n}"}} for n in range(3)]
    items[1]["fail"] = {"BOOL": True}
    puts = [{"PutRequest": {"Item": item}} for item in items]
    cloud.client("dynamodb").batch_write_item(RequestItems={table: puts})
    # WHEN its one retry is used up
    found = wait_until(lambda: discarded(cloud, "TableConsumerTableChanges", marker), timeout=60)
    cloud.wait_until_idle()
    # THEN one object holds the invocation record and the batch, exactly as the function was invoked with it
    [(key, record)] = discarded(cloud, "TableConsumerTableChanges", marker)
    assert found[0][0] == key
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"].endswith(":function:TableConsumer")
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0"
    assert isinstance(record["payload"], str)
    payload = json.loads(record["payload"])
    assert payload == seen_event(cloud, "TableConsumer", record["requestContext"]["requestId"])
    # ... and the batch info describes those very records
    records = payload["Records"]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records] == [f"{marker}-{n}" for n in range(3)]
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 3
    assert info["startSequenceNumber"] == records[0]["dynamodb"]["SequenceNumber"]
    assert info["endSequenceNumber"] == records[-1]["dynamodb"]["SequenceNumber"]
    assert info["streamArn"] == cloud.attribute("Changes", "StreamArn") == records[0]["eventSourceARN"]
    assert_key_matches(key, "TableConsumerTableChanges", info["shardId"], record["timestamp"])


def test_a_bisected_kinesis_batch_leaves_one_object_per_discarded_half(cloud: LocalCloud) -> None:
    marker = f"m-{uuid.uuid4().hex[:8]}"
    # GIVEN one batch of four records, the second and the fourth failing the consumer
    entries = [
        {"Data": json.dumps({"id": f"{marker}-{n}", "fail": n in (1, 3)}).encode(), "PartitionKey": "p"}
        for n in range(4)
    ]
    written = cloud.client("kinesis").put_records(StreamName=cloud.physical_id("Events"), Records=entries)
    sequence_numbers = [entry["SequenceNumber"] for entry in written["Records"]]
    # WHEN the consumer bisects the failing batch down to the single failing records, with no retries
    mapping = "StreamConsumerStreamRecords"
    wait_until(lambda: len(discarded(cloud, mapping, *sequence_numbers)) == 2, timeout=60)
    cloud.wait_until_idle()
    # THEN each discarded record has an object of its own, whose batch info and payload are that record
    objects = discarded(cloud, mapping, *sequence_numbers)
    objects.sort(key=lambda found: int(found[1]["KinesisBatchInfo"]["startSequenceNumber"]))
    assert len(objects) == 2
    for (key, record), n in zip(objects, (1, 3), strict=True):
        info = record["KinesisBatchInfo"]
        assert (info["batchSize"], info["startSequenceNumber"], info["endSequenceNumber"]) == (
            1,
            sequence_numbers[n],
            sequence_numbers[n],
        )
        assert info["streamArn"] == cloud.attribute("Events", "Arn")
        assert record["requestContext"]["approximateInvokeCount"] == 1
        payload = json.loads(record["payload"])
        assert payload == seen_event(cloud, "StreamConsumer", record["requestContext"]["requestId"])
        [only] = payload["Records"]
        assert only["kinesis"]["sequenceNumber"] == sequence_numbers[n]
        assert only["eventID"] == f"{info['shardId']}:{sequence_numbers[n]}"
        assert_key_matches(key, mapping, info["shardId"], record["timestamp"])
    # ... while the consumer with an SQS destination got the invocation record of its whole batch, alone
    queue = cloud.physical_id("DiscardedNotices")

    def notice() -> dict[str, Any] | None:
        received = cloud.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
        for message in received.get("Messages", []):
            body = json.loads(message["Body"])
            if body["KinesisBatchInfo"]["startSequenceNumber"] == sequence_numbers[0]:
                return dict(body)
        return None

    body = wait_until(notice, timeout=30)
    assert "payload" not in body
    assert body["KinesisBatchInfo"]["batchSize"] == 4
    assert body["KinesisBatchInfo"]["endSequenceNumber"] == sequence_numbers[-1]


def test_the_buckets_notification_configuration_tells_of_each_discarded_batch(cloud: LocalCloud) -> None:
    # GIVEN a bucket whose NotificationConfiguration (which moto's CloudFormation ignores) names a queue
    marker = f"m-{uuid.uuid4().hex[:8]}"
    table = cloud.physical_id("Changes")
    cloud.client("dynamodb").put_item(TableName=table, Item={"id": {"S": marker}, "fail": {"BOOL": True}})
    # WHEN a batch is discarded there
    [(key, _)] = wait_until(lambda: discarded(cloud, "TableConsumerTableChanges", marker), timeout=60)
    # THEN the queue gets S3's notice of it, and none of the objects outside the filter's prefix
    sqs, queue = cloud.client("sqs"), cloud.physical_id("ParkedNotices")
    keys: list[str] = []

    def noticed() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            # Keys come URL-encoded (moto's S3 encodes the slashes too): decoded, as a consumer must
            keys.extend(unquote_plus(record["s3"]["object"]["key"]) for record in body.get("Records", []))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return key in keys

    wait_until(noticed, timeout=30)
    assert all(noticed_key.startswith("aws/lambda/") for noticed_key in keys)
