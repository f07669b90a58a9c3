"""Rebuild the OrdersView read model from the orders event log, on AWS; invoked by hand (see
docs/read-side.md), never by an event source. Event: {"segments": 8, "fresh": false}. In place by default
(conditional writes: safe while the projector runs); `fresh` only into an empty table."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger

from microsystem.rebuild import rebuild
from microsystem.viewstore import DynamoDBViewStore
from orders.projection import order_projection

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
dynamodb = boto3.client("dynamodb")
MAX_SEGMENTS = 64


@logger.inject_lambda_context(log_event=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    segments = event.get("segments", 4)
    if not isinstance(segments, int) or not 1 <= segments <= MAX_SEGMENTS:
        raise ValueError(f"segments must be an integer from 1 to {MAX_SEGMENTS}, got {segments!r}")
    fresh = event.get("fresh", False)
    if not isinstance(fresh, bool):
        raise ValueError(f"fresh must be true or false, got {fresh!r}")
    views = DynamoDBViewStore(
        os.environ["VIEW_TABLE"], dynamodb, key_attribute=order_projection.key_attribute
    )
    report = rebuild(
        order_projection,
        dynamodb,
        os.environ["EVENT_LOG_TABLE"],
        views,
        segments=segments,
        fresh=fresh,
        progress=lambda message: logger.info(message),
    )
    if report.failed_streams:
        # The rest is rebuilt; these rows were left as they were. Their reasons are in the progress lines.
        logger.error("rebuild left streams unrepaired", failed_streams=report.failed_streams)
    return asdict(report)
