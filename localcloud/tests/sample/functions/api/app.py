"""Sample HTTP API: writes and reads items, echoes what the gateway sent, tells the caller who they are."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import sampletools

items = boto3.resource("dynamodb").Table(os.environ["EVENTS_TABLE"])
ENV_NAMES = [
    "STAGE",
    "SEEN_TABLE",
    "LOG_LEVEL",
    "EVENTS_TABLE",
    "STREAM_NAME",
    "WORK_QUEUE_URL",
    "GREETING_PARAMETER",
    "EVENTS_STREAM_ARN",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_REGION",
]


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route = event["routeKey"]
    if route == "POST /items":
        item = json.loads(event["body"])
        items.put_item(Item=item)
        return {
            "statusCode": 201,
            "headers": {"location": f"/items/{item['pk']}/{item['sk']}", "x-sample": "yes"},
            "cookies": ["seen=1; Path=/"],
            "body": json.dumps(item),
        }
    if route == "GET /items/{pk}/{sk}":
        params = event["pathParameters"]
        found = items.get_item(Key={"pk": params["pk"], "sk": int(params["sk"])}).get("Item")
        if found is None:
            return {"statusCode": 404, "body": json.dumps({"message": "no such item"})}
        return {"statusCode": 200, "body": json.dumps(found, default=str)}
    if route in ("GET /whoami", "GET /staff/whoami"):
        return {"statusCode": 200, "body": json.dumps(event["requestContext"]["authorizer"]["jwt"])}
    context_seen = {
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "invoked_function_arn": context.invoked_function_arn,
        "aws_request_id": context.aws_request_id,
    }
    env = {name: os.environ.get(name) for name in ENV_NAMES}
    body = {"event": event, "env": env, "context": context_seen, "layer": sampletools.VERSION}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
