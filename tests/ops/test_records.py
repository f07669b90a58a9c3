"""What a stream redrive re-delivers: only the records the mapping's own FilterCriteria (from the translated
template) would have delivered, judged on the exact shapes Lambda delivers (events/*.json); and when a parked
batch's object counts as gone."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ops.records import (
    FailureRecord,
    ParkedBatchGoneError,
    RecordsUnavailableError,
    kept_by_filters,
    load_parked_batch,
)
from ops.template import TEMPLATE, StackShape, load_sam, translate
from tests.support.aws import ROOT


@pytest.fixture(scope="module")
def filters() -> dict[str, list[dict[str, Any]]]:
    cfn = translate(load_sam(TEMPLATE))
    return {
        mapping.function: cfn["Resources"][mapping.logical_id]["Properties"]
        .get("FilterCriteria", {})
        .get("Filters", [])
        for mapping in StackShape.of(cfn).mappings
    }


def record(name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "events" / name).read_text())["Records"][0])


def with_data(kinesis_record: dict[str, Any], data: bytes) -> dict[str, Any]:
    changed = copy.deepcopy(kinesis_record)
    changed["kinesis"]["data"] = base64.b64encode(data).decode()
    return changed


def test_analytics_gets_only_the_types_it_counts(filters):
    created = record("kinesis_order_created.json")
    document = json.loads(base64.b64decode(created["kinesis"]["data"]))
    confirmed = with_data(
        created, json.dumps({**document, "type": "com.example.orders.OrderConfirmed.v1"}).encode()
    )
    analytics = filters["SalesAnalyticsProjectorFunction"]
    assert kept_by_filters(created, analytics, "kinesis")
    assert not kept_by_filters(confirmed, analytics, "kinesis")
    assert not kept_by_filters(with_data(created, b"not json"), analytics, "kinesis")


def test_an_unfiltered_consumer_gets_everything_garbage_included(filters):
    garbage = with_data(record("kinesis_order_created.json"), b"not json")
    assert filters["PaymentCommandsConsumerFunction"] == []
    assert kept_by_filters(garbage, filters["PaymentCommandsConsumerFunction"], "kinesis")


def test_the_log_consumers_get_inserts_only(filters):
    inserted = record("ddb_stream_order_created.json")
    modified = {**inserted, "eventName": "MODIFY"}
    for function in ("OrderProjectorFunction", "OrderPublisherFunction"):
        assert kept_by_filters(inserted, filters[function], "dynamodb"), function
        assert not kept_by_filters(modified, filters[function], "dynamodb"), function


def test_a_lambda_failure_record_is_read_and_anything_else_is_not():
    body = {
        "requestContext": {
            "condition": "RetryAttemptsExhausted",
            "functionArn": "arn:f",
            "approximateInvokeCount": 11,
        },
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": "1",
            "endSequenceNumber": "5",
            "batchSize": 5,
            "streamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
        },
    }
    failure = FailureRecord.parse(json.dumps(body))
    assert failure is not None
    assert (failure.source, failure.shard_id, failure.start, failure.end, failure.attempts) == (
        "kinesis",
        "shardId-000000000000",
        "1",
        "5",
        11,
    )
    assert FailureRecord.parse('{"command_type": "CancelOrder"}') is None
    assert FailureRecord.parse("not json") is None


class OneClient:
    """A Target as load_parked_batch uses it: only its S3 client."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def client(self, name: str) -> Any:
        assert name == "s3"
        return self.s3


class DeniedS3:
    def get_object(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")


class TestAParkedBatchsObject:
    def test_a_missing_key_is_gone(self, aws: None) -> None:
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket="failed-batches", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        with pytest.raises(ParkedBatchGoneError, match="NoSuchKey"):
            load_parked_batch(OneClient(s3), "failed-batches", "aws/lambda/gone")  # type: ignore[arg-type]

    def test_a_denied_read_is_not_taken_for_gone(self) -> None:
        # S3 answers AccessDenied for a missing key too, to a caller without s3:ListBucket: it cannot tell.
        with pytest.raises(RecordsUnavailableError) as raised:
            load_parked_batch(OneClient(DeniedS3()), "failed-batches", "aws/lambda/x")  # type: ignore[arg-type]
        assert not isinstance(raised.value, ParkedBatchGoneError)
