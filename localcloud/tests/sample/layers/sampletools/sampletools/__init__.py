"""A tiny layer for the sample functions: reads payloads from any trigger's event, notes what was seen."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import boto3

__all__ = ["VERSION", "payloads", "seen_table"]

VERSION = "sampletools-1"


def seen_table() -> Any:
    return boto3.resource("dynamodb").Table(os.environ["SEEN_TABLE"])


def payloads(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(item identifier for a partial batch response, decoded payload) for each record of a batch."""
    result = []
    for record in event.get("Records", []):
        source = record.get("eventSource")
        if source == "aws:dynamodb":
            image = record["dynamodb"].get("NewImage", {})
            payload = {name: next(iter(value.values())) for name, value in image.items()}
            result.append((record["dynamodb"]["SequenceNumber"], payload))
        elif source == "aws:kinesis":
            payload = json.loads(base64.b64decode(record["kinesis"]["data"]))
            result.append((record["kinesis"]["sequenceNumber"], payload))
        elif source == "aws:sqs":
            result.append((record["messageId"], json.loads(record["body"])))
    return result
