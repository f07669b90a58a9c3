"""Notes every record it is handed (its id, the function, the run) in the seen table; a record whose payload
says `hold` keeps it waiting, after it is noted, for as long as GATE_FOLDER/hold exists (30 s at most)."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

table = boto3.resource("dynamodb").Table(os.environ["SEEN_TABLE"])
hold = Path(os.environ["GATE_FOLDER"]) / "hold"
HOLD_AT_MOST_SECONDS = 30


def payload(record: dict[str, Any]) -> dict[str, Any]:
    if record["eventSource"] == "aws:kinesis":
        return dict(json.loads(base64.b64decode(record["kinesis"]["data"])))
    image = record["dynamodb"]["NewImage"]
    return {name: next(iter(value.values())) for name, value in image.items()}


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    for record in event["Records"]:
        found = payload(record)
        noted = {"fn": context.function_name, "id": found["id"], "run": os.environ["RUN"]}
        table.put_item(Item={"pk": str(uuid.uuid4()), **noted})
        deadline = time.monotonic() + HOLD_AT_MOST_SECONDS
        while found.get("hold") and hold.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
