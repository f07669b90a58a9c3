"""Puts the id of every changed order of the parent's table on the nested template's audit queue."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

sqs = boto3.client("sqs")


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    for record in event["Records"]:
        body = {"id": record["dynamodb"]["Keys"]["id"]["S"], "stack": os.environ["STACK"]}
        sqs.send_message(QueueUrl=os.environ["AUDIT_QUEUE_URL"], MessageBody=json.dumps(body))
