"""Echoes the REST API event it received (payload format 1.0)."""

import json


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"x-seen": ["one", "two"]},
        "body": json.dumps({"event": event}),
    }
