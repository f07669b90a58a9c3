"""Keeps every event it is invoked with (`seen/<request id>.json` in SEEN_BUCKET, to compare with what the
on-failure destination gets), then fails the whole batch when a record in it asks to (`"fail": true` in the
Kinesis data, a `fail` attribute in the new image)."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import boto3

s3 = boto3.client("s3")


def asks_to_fail(record: dict[str, Any]) -> bool:
    if record["eventSource"] == "aws:kinesis":
        return bool(json.loads(base64.b64decode(record["kinesis"]["data"])).get("fail"))
    return "fail" in record["dynamodb"].get("NewImage", {})


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    key = f"seen/{context.function_name}/{context.aws_request_id}.json"
    s3.put_object(Bucket=os.environ["SEEN_BUCKET"], Key=key, Body=json.dumps(event).encode())
    if any(asks_to_fail(record) for record in event["Records"]):
        raise RuntimeError("asked to fail")
