"""Firehose delivery to S3 (samples/firehose): records on a Kinesis stream land in S3 as Firehose writes them,
partitioned by the JQ query's keys, one newline-delimited gzipped object per partition and buffer, named
`<prefix><stream name>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>.gz`, encrypted with the destination's KMS key; a record
the query cannot read goes to the error prefix; buffers are delivered by time, by size, or by `flush()`; and
what the template asks that is not emulated is refused by name."""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from localcloud.firehose import _spec, evaluate_prefix
from localcloud.template import TemplateError
from support import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = Path(__file__).parent / "samples" / "firehose" / "template.yaml"
OBJECT = re.compile(
    r"(?P<prefix>.*/)localcloud-facts-archive-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.gz"
)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(
        TEMPLATE,
        port=0,
        moto_port=0,
        output=io.StringIO(),
        gateway=False,
        parameter_overrides={"BufferSeconds": "1"},
    ) as running:
        yield running


def put(cloud: LocalCloud, *documents: Any, raw: bytes | None = None) -> None:
    kinesis = cloud.client("kinesis")
    stream = cloud.physical_id("Facts")
    for document in documents:
        kinesis.put_record(
            StreamName=stream, Data=json.dumps(document).encode(), PartitionKey=str(uuid.uuid4())
        )
    if raw is not None:
        kinesis.put_record(StreamName=stream, Data=raw, PartitionKey="raw")


def objects(cloud: LocalCloud, prefix: str) -> dict[str, bytes]:
    s3, bucket = cloud.client("s3"), cloud.physical_id("Archive")
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def fact(kind: str, marker: str, day: str = "2026-11-26") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": f"com.example.{kind}.v1",
        "time": f"{day}T10:00:00Z",
        "m": marker,
    }


def test_records_land_partitioned_newline_delimited_gzipped_and_encrypted_after_the_buffer_interval(
    cloud: LocalCloud,
) -> None:
    # GIVEN facts of two kinds on two days
    marker = uuid.uuid4().hex
    put(
        cloud,
        fact("Placed", marker),
        fact("Placed", marker),
        fact("Paid", marker),
        fact("Placed", marker, "2026-11-27"),
    )

    # WHEN the buffer interval (1 s) passes
    def delivered() -> dict[str, bytes] | None:
        found = {k: v for k, v in objects(cloud, "facts/").items() if marker.encode() in gzip.decompress(v)}
        return found if len(found) == 3 else None

    found = wait_until(delivered, timeout=15)

    # THEN one object per partition, under the evaluated prefix, each line one record
    prefixes = {}
    for key, body in found.items():
        match = OBJECT.fullmatch(key)
        assert match is not None, key
        prefixes[match["prefix"]] = [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    assert {prefix: len(lines) for prefix, lines in prefixes.items()} == {
        "facts/kind=Placed/day=2026-11-26/": 2,
        "facts/kind=Paid/day=2026-11-26/": 1,
        "facts/kind=Placed/day=2026-11-27/": 1,
    }
    # AND the objects are encrypted with the destination's key
    head = cloud.client("s3").head_object(Bucket=cloud.physical_id("Archive"), Key=next(iter(found)))
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(cloud.physical_id("ArchiveKey"))


def test_a_record_the_query_cannot_read_goes_to_the_error_prefix_with_its_raw_data(cloud: LocalCloud) -> None:
    # GIVEN a record that is not JSON, and one without the key's field
    marker = uuid.uuid4().hex
    put(cloud, {"id": marker, "type": "com.example.Placed.v1"}, raw=f"not json {marker}".encode())

    # WHEN it is delivered
    cloud.flush_delivery_streams()

    # THEN both are error documents under errors/partitioning-failed/<day>/, with the record in rawData
    errors = [
        json.loads(line)
        for key, body in objects(cloud, "errors/partitioning-failed/").items()
        for line in gzip.decompress(body).decode().splitlines()
    ]
    ours = [error for error in errors if marker in base64.b64decode(error["rawData"]).decode()]
    assert len(ours) == 2
    assert {error["errorCode"] for error in ours} == {"DynamicPartitioning.MetadataExtractionFailed"}
    assert all(error["sequenceNumber"] and error["arrivalTimestamp"] > 0 for error in ours)


def test_a_full_buffer_is_delivered_before_its_interval(cloud: LocalCloud) -> None:
    # GIVEN a delivery stream buffering a second, or 1 MB
    stream = cloud.delivery_streams[0]
    marker = uuid.uuid4().hex
    padding = "x" * 10_000

    # WHEN more than 1 MB arrives for one partition, in one request (120 requests of one record each took
    # longer than the second on a loaded machine, and the interval let a part of it go first)
    cloud.client("kinesis").put_records(
        StreamName=cloud.physical_id("Facts"),
        Records=[
            {"Data": json.dumps({**fact("Big", marker), "pad": padding}).encode(), "PartitionKey": str(n)}
            for n in range(120)
        ],
    )

    # THEN the first object holds about 1 MB and is written as soon as the buffer fills
    big = wait_until(lambda: objects(cloud, "facts/kind=Big/"), timeout=15)
    sizes = sorted(len(gzip.decompress(body)) for body in big.values())
    assert sizes[-1] >= 1024 * 1024
    assert stream.positions()  # a position per shard read, saved with the state


def test_flush_reads_the_stream_and_delivers_every_buffer_at_once(cloud: LocalCloud) -> None:
    # GIVEN a record just put on the stream, not yet read by the delivery stream
    marker = uuid.uuid4().hex
    put(cloud, fact("Flushed", marker))

    # WHEN the local cloud is asked to flush
    cloud.flush_delivery_streams()

    # THEN the record is in S3 at once, without waiting for the interval
    bodies = objects(cloud, "facts/kind=Flushed/").values()
    assert any(marker.encode() in gzip.decompress(body) for body in bodies)


def test_a_put_that_fails_keeps_its_buffer_and_a_later_delivery_writes_it(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN S3 refusing the delivery stream's next put
    stream = cloud.delivery_streams[0]
    client, refused = stream._client, []

    class Refusing:
        def put_object(self, **_: Any) -> None:
            refused.append(True)
            raise RuntimeError("S3 is unavailable")

    monkeypatch.setattr(
        stream, "_client", lambda service: Refusing() if service == "s3" and not refused else client(service)
    )
    marker = uuid.uuid4().hex
    put(cloud, fact("Retried", marker))

    # WHEN it is delivered (the failed put, then a later one)
    def written() -> bool:
        with contextlib.suppress(RuntimeError):
            cloud.flush_delivery_streams()
        bodies = objects(cloud, "facts/kind=Retried/").values()
        return any(marker.encode() in gzip.decompress(body) for body in bodies)

    wait_until(written, timeout=15)
    # THEN the record was kept through the failure and written once
    assert refused
    bodies = objects(cloud, "facts/kind=Retried/").values()
    assert sum(gzip.decompress(body).count(marker.encode()) for body in bodies) == 1


def test_prefix_expressions_evaluate_as_firehose_documents_them() -> None:
    arrival = 1_764_151_200.0  # 2025-11-26T10:00:00Z
    assert (
        evaluate_prefix("d=!{timestamp:yyyy-MM-dd}/h=!{timestamp:HH}/", arrival=arrival)
        == "d=2025-11-26/h=10/"
    )
    assert evaluate_prefix("!{timestamp:yyyy'/'MM}/", arrival=arrival) == "2025/11/"
    assert evaluate_prefix("k=!{partitionKeyFromQuery:k}/", keys={"k": "v"}, arrival=arrival) == "k=v/"
    assert evaluate_prefix("e/!{firehose:error-output-type}/", arrival=arrival, error_type="x") == "e/x/"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"DeliveryStreamType": "DirectPut"}, "DeliveryStreamType DirectPut"),
        (
            {"ExtendedS3DestinationConfiguration": None, "HttpEndpointDestinationConfiguration": {}},
            "a destination",
        ),
        ({"DataFormatConversionConfiguration": {"Enabled": True}}, "DataFormatConversionConfiguration"),
        ({"Processors": [{"Type": "Lambda", "Parameters": []}]}, "a Lambda processor"),
        ({"CompressionFormat": "Snappy"}, "CompressionFormat Snappy"),
        ({"Prefix": "x=!{partitionKeyFromLambda:x}/"}, "partitionKeyFromLambda"),
        (
            {"Prefix": "x=!{timestamp:yyyy-ww}/"},
            "its Prefix: timestamp pattern 'yyyy-ww': 'w' is not emulated",
        ),
        ({"ErrorOutputPrefix": "e/!{firehose:nonsense}/"}, "its ErrorOutputPrefix: prefix expression"),
    ],
)
def test_what_is_not_emulated_is_refused_by_name(change: dict[str, Any], refusal: str) -> None:
    properties: dict[str, Any] = {
        "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {"KinesisStreamARN": "arn:aws:kinesis:eu-west-1:1:stream/s"},
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": "arn:aws:s3:::b",
            "Prefix": "p/",
            "ProcessingConfiguration": {"Enabled": True, "Processors": []},
        },
    }
    destination = properties["ExtendedS3DestinationConfiguration"]
    for key, value in change.items():
        if key in ("DeliveryStreamType", "HttpEndpointDestinationConfiguration"):
            properties[key] = value
        elif key == "ExtendedS3DestinationConfiguration":
            del properties[key]
        elif key == "Processors":
            destination["ProcessingConfiguration"]["Processors"] = value
        else:
            destination[key] = value
    with pytest.raises(TemplateError, match=re.escape(refusal)):
        _spec("Archive", properties)
