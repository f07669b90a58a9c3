"""Records every event it gets in the seen table (keyed by a marker in it), and fails on request."""

import json
import os
import time
import uuid

import boto3

table = boto3.resource("dynamodb").Table(os.environ["SEEN_TABLE"])


def lambda_handler(event, context):
    text = json.dumps(event)
    table.put_item(
        Item={"pk": str(uuid.uuid4()), "fn": context.function_name, "at": time.time_ns(), "event": text}
    )
    if "fail-me" in text:
        raise RuntimeError("asked to fail")
    return {"ok": True}
