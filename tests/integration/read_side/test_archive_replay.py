"""Replaying OrdersView from the archive on moto: the orders' commits published as CloudEvents, archived as
Firehose writes them (gzipped JSON lines under events/context=orders/fact=<type>/day=<day>/), some twice;
a replay from the archive writes the rows a replay of the log writes, each event once; a period's replay
holds the aggregates with facts in it, whole (a stream whose archived facts start later than its first
version is caught up from the log)."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import boto3

from eventcore.messaging.cloudevents import commit_to_cloudevents
from eventcore.read.generations.archive_scan import ArchiveSource, read_archive
from eventcore.read.generations.replay import rebuild
from eventcore.read.view_store import DynamoDBViewStore
from orders.read_model import order_projection
from tests.integration.read_side.test_rebuild import populate
from tests.support.aws import create_table


def archive(read_side: Any, *, twice: int = 0) -> tuple[Any, str]:
    """Every Order commit of the log, archived by fact type and the day of each event (one object per
    commit, as many small Firehose objects are); the first `twice` commits archived a second time."""
    s3: Any = boto3.client("s3")
    bucket = f"archive-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    scan = read_side.dynamodb.get_paginator("scan").paginate(TableName=read_side.log_table)
    streams = sorted({item["stream"]["S"] for page in scan for item in page["Items"]})
    written = 0
    for stream in streams:
        if not stream.startswith("Order-"):
            continue
        for commit in read_side.store.read(stream):
            copies = 2 if written < twice else 1
            written += 1
            for document in commit_to_cloudevents(
                commit, source="urn:x:orders", type_prefix="com.example.orders"
            ):
                fact = document["type"].split(".")[-2]
                day = document["time"][:10]
                for _ in range(copies):
                    key = f"events/context=orders/fact={fact}/day={day}/archive-1-{uuid.uuid4()}.gz"
                    s3.put_object(
                        Bucket=bucket, Key=key, Body=gzip.compress(json.dumps(document).encode() + b"\n")
                    )
    return s3, bucket


def test_a_replay_from_the_archive_writes_the_rows_a_replay_of_the_log_writes(read_side: Any) -> None:
    # GIVEN orders in the log, projected, and archived with some facts delivered twice
    populate(read_side, orders=2)
    read_side.project()
    stream_fed = read_side.view_rows()
    s3, bucket = archive(read_side, twice=3)

    # WHEN a fresh table is filled from the archive
    table = create_table(read_side.dynamodb, "OrdersView", "orders-view-from-archive")
    views = DynamoDBViewStore(table, read_side.dynamodb, key_attribute="order_id")
    report = rebuild(
        order_projection,
        read_side.dynamodb,
        read_side.log_table,
        views,
        fresh=True,
        progress=lambda _: None,
        source=ArchiveSource(s3, bucket, "orders"),
    )

    # THEN its rows are the stream-fed ones, each event applied once
    assert read_side.view_rows(table) == stream_fed
    assert report.failed_streams == 0
    _, duplicates = read_archive(
        order_projection, ArchiveSource(s3, bucket, "orders"), progress=lambda _: None
    )
    assert duplicates >= 3


def test_an_order_whose_first_facts_lie_before_the_period_is_caught_up_from_the_log_whole(
    read_side: Any,
) -> None:
    # GIVEN archived orders, one of which was placed before the period (its OrderCreated not in it)
    ids = populate(read_side, orders=2)
    read_side.project()
    stream_fed = read_side.view_rows()
    s3, bucket = archive(read_side)
    earlier = ids[1]  # cancelled since: it has facts in the period
    for item in s3.list_objects_v2(Bucket=bucket, Prefix="events/context=orders/fact=OrderCreated/")[
        "Contents"
    ]:
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        if json.loads(body)["subject"] == earlier:
            s3.delete_object(Bucket=bucket, Key=item["Key"])

    # WHEN the period is replayed
    table = create_table(read_side.dynamodb, "OrdersView", "orders-view-period")
    views = DynamoDBViewStore(table, read_side.dynamodb, key_attribute="order_id")
    report = rebuild(
        order_projection,
        read_side.dynamodb,
        read_side.log_table,
        views,
        fresh=True,
        progress=lambda _: None,
        source=ArchiveSource(s3, bucket, "orders"),
    )

    # THEN that order's row is the whole order's (from the log), never a fold of its later facts alone
    rows = read_side.view_rows(table)
    assert rows[earlier] == stream_fed[earlier]
    assert rows == stream_fed
    assert report.revisited_streams == 1
