"""Sample function that misbehaves on request, to show the local cloud reports it and keeps serving."""

from __future__ import annotations

import os
import time
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    how = event["pathParameters"]["how"]
    if how == "raise":
        raise ValueError("asked to raise")
    if how == "timeout":
        time.sleep(30)
    if how == "garbage":
        return {"statusCode": 200, "body": object()}
    if how == "badshape":
        return {"statusCode": "not a number"}
    if how == "exit":
        os._exit(3)
    if how == "plain":
        return {"just": "a dict"}
    return {"statusCode": 200, "body": "fine"}
