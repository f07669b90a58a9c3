"""Orders query API: GET /orders (the caller's orders, newest first), GET /orders/{order_id} (from the read
model, or rebuilt from the log: consistent, as of a version, as of a time) and GET /orders/{order_id}/events
(the audit trail). Thin: parse and check the query, read, shape the answer. A customer only ever sees
their own orders: anyone else's id answers exactly like a missing one."""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths

from microsystem import DeciderRunner, DynamoDBEventStore
from microsystem.cursors import InvalidCursorError, decode_cursor, encode_cursor
from microsystem.history import entries, state_at
from microsystem.http import caller_id, field_error, problem
from microsystem.viewstore import from_item
from orders import OrderCreated, OrderNotFoundError, order_decider, order_events
from orders.ids import is_order_id
from orders.views import order_document

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from orders import Order

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver()
dynamodb = boto3.client("dynamodb")
store = DynamoDBEventStore(os.environ["EVENT_LOG_TABLE"], dynamodb)
runner = DeciderRunner(order_decider, store)
VIEW_TABLE = os.environ["VIEW_TABLE"]
VIEW_INDEX = os.environ.get("VIEW_INDEX", "by-customer")

MAX_LIMIT = 100
DEFAULT_ORDERS_LIMIT = 20
DEFAULT_EVENTS_LIMIT = 50
LIST_ATTRIBUTES = ("order_id", "status", "currency", "total", "placed_at", "updated_at", "version")
# ASCII digits only: str.isdigit() also accepts superscripts, which int() refuses, and other scripts' digits.
DIGITS = re.compile(r"[0-9]{1,12}")
MAX_VERSION = 10**12 - 1  # far beyond any stream, and well inside DynamoDB's 38-digit numbers


class InvalidQueryError(ValueError):
    def __init__(self, field: str, problem_text: str) -> None:
        super().__init__(f"{field}: {problem_text}")
        self.field = field
        self.problem = problem_text


# -- routes --------------------------------------------------------------------------------------------------


@app.get("/orders")
def list_orders() -> Response:
    customer_id = caller_id(app.current_event)
    limit = limit_param(DEFAULT_ORDERS_LIMIT)
    request: dict[str, Any] = {
        "TableName": VIEW_TABLE,
        "IndexName": VIEW_INDEX,
        "KeyConditionExpression": "customer_id = :customer",
        "ExpressionAttributeValues": {":customer": {"S": customer_id}},
        "ScanIndexForward": False,  # newest first
        "Limit": limit + 1,  # one more than asked, to know whether there is a next page
    }
    token = app.current_event.get_query_string_value("cursor")
    if token is not None:
        request["ExclusiveStartKey"] = list_position(token, customer_id)
    items = [from_item(item) for item in dynamodb.query(**request).get("Items", [])]
    page, more = items[:limit], len(items) > limit
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = encode_cursor(
            "orders",
            {"customer_id": customer_id, "placed_at": last["placed_at"], "order_id": last["order_id"]},
        )
    orders = [{name: item.get(name) for name in LIST_ATTRIBUTES} for item in page]
    return json_response(200, {"orders": orders, "next_cursor": next_cursor})


@app.get("/orders/<order_id>")
def get_order(order_id: str) -> Response:
    customer_id = caller_id(app.current_event)
    require_order_id(order_id)
    version = int_param("version", minimum=1)
    as_of = time_param("asOf")
    consistent = bool_param("consistent")
    if version is not None or as_of is not None:
        # Time travel: replay the log up to that version and/or time.
        past = state_at(order_decider, store, order_id, version=version, at=as_of)
        order = owned(past.state, order_id, customer_id)
        if version is not None and past.version < version and as_of is None:
            return problem(404, f"Order {order_id} has no version {version}; its latest is {past.version}.")
        document = order_document(order, past.version)
    elif consistent:
        aggregate = runner.load(order_id)
        document = order_document(owned(aggregate.state, order_id, customer_id), aggregate.version)
    else:
        item = dynamodb.get_item(TableName=VIEW_TABLE, Key={"order_id": {"S": order_id}}).get("Item")
        document = from_item(item) if item else None
        if document is None or document.get("customer_id") != customer_id:
            raise OrderNotFoundError(order_id)
    etag = f'"{document["version"]}"'
    if etag_matches(app.current_event.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return json_response(200, document, ETag=etag)


@app.get("/orders/<order_id>/events")
def get_order_events(order_id: str) -> Response:
    customer_id = caller_id(app.current_event)
    require_order_id(order_id)
    limit = limit_param(DEFAULT_EVENTS_LIMIT)
    after, commit_after = 0, 0
    token = app.current_event.get_query_string_value("cursor")
    if token is not None:
        after, commit_after = events_position(token, order_id)
    require_owner(order_id, customer_id)
    stream = order_decider.stream_id(order_id)
    page = []
    for entry in entries(store, stream, after=after, commit_after=commit_after):
        page.append(entry)
        if len(page) > limit:
            break
    more, page = len(page) > limit, page[:limit]
    events = [
        {
            "version": entry.version,
            "event_id": entry.event.event_id,
            "type": entry.event.event_type,
            "schema_version": entry.event.schema_version,
            "recorded_at": entry.event.recorded_at,
            "data": entry.event.payload(),
            "correlation_id": entry.commit.correlation_id,
            "causation_id": entry.commit.causation_id,
        }
        for entry in page
    ]
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = encode_cursor(
            "events", {"order_id": order_id, "after": last.version, "from": last.commit.version - 1}
        )
    return json_response(200, {"order_id": order_id, "events": events, "next_cursor": next_cursor})


# -- ownership -----------------------------------------------------------------------------------------------


def owned(order: Order | None, order_id: str, customer_id: str) -> Order:
    if order is None or order.customer_id != customer_id:
        raise OrderNotFoundError(order_id)
    return order


def require_owner(order_id: str, customer_id: str) -> None:
    """The order's first event names its customer: one small read of the log, whatever page is asked."""
    for entry in entries(store, order_decider.stream_id(order_id), up_to=1):
        created = order_events.decode(entry.event)
        if isinstance(created, OrderCreated) and created.customer_id == customer_id:
            return
    raise OrderNotFoundError(order_id)


def require_order_id(order_id: str) -> None:
    if not is_order_id(order_id):
        raise OrderNotFoundError(order_id)


def is_version(value: object) -> bool:
    """A version a cursor may carry: an int (JSON true/false are not), in the range versions have."""
    return type(value) is int and 0 <= value <= MAX_VERSION


# -- query parameters ----------------------------------------------------------------------------------------


def int_param(
    name: str, *, minimum: int, maximum: int | None = None, default: int | None = None
) -> int | None:
    text = app.current_event.get_query_string_value(name)
    if text is None:
        return default
    allowed = f"an integer from {minimum} to {maximum}" if maximum else f"an integer of at least {minimum}"
    if DIGITS.fullmatch(text) is None:
        raise InvalidQueryError(name, f"must be {allowed}, got {text[:40]!r}")
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        raise InvalidQueryError(name, f"must be {allowed}, got {value}")
    return value


def limit_param(default: int) -> int:
    return int_param("limit", minimum=1, maximum=MAX_LIMIT, default=default) or default


def bool_param(name: str) -> bool:
    text = app.current_event.get_query_string_value(name)
    if text is None:
        return False
    if text.lower() not in ("true", "false"):
        raise InvalidQueryError(name, f"must be true or false, got {text[:40]!r}")
    return text.lower() == "true"


def time_param(name: str) -> datetime | None:
    text = app.current_event.get_query_string_value(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "+"))  # an unencoded '+' arrives as a space
    except ValueError:
        raise InvalidQueryError(
            name, f"must be an ISO 8601 time, e.g. 2026-11-26T10:15:00Z, got {text[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidQueryError(name, "must include a time zone, e.g. a trailing Z for UTC")
    return moment


def list_position(token: str, customer_id: str) -> dict[str, Any]:
    """The cursor of GET /orders as DynamoDB's ExclusiveStartKey, after checking every field of it."""
    try:
        position = decode_cursor("orders", token)
        if set(position) != {"customer_id", "placed_at", "order_id"}:
            raise InvalidCursorError("unexpected fields")
        if not all(isinstance(value, str) for value in position.values()):
            raise InvalidCursorError("unexpected values")
        if position["customer_id"] != customer_id:
            raise InvalidCursorError("a cursor of another customer's listing")
        if not is_order_id(position["order_id"]):
            raise InvalidCursorError("not an order id")
        datetime.fromisoformat(position["placed_at"])
    # RecursionError: deeply nested JSON in a cursor (a cursor is at most 1 KiB, but never risk a 500).
    except (InvalidCursorError, ValueError, RecursionError) as exc:
        raise InvalidQueryError(
            "cursor", "is not a cursor this listing handed out; start again without one"
        ) from exc
    return {name: {"S": value} for name, value in position.items()}


def events_position(token: str, order_id: str) -> tuple[int, int]:
    try:
        position = decode_cursor("events", token)
        after, commit_after = position.get("after"), position.get("from")
        if set(position) != {"order_id", "after", "from"} or position["order_id"] != order_id:
            raise InvalidCursorError("a cursor of another order's events")
        if not (is_version(after) and is_version(commit_after) and commit_after < after):
            raise InvalidCursorError("unexpected values")
    except (InvalidCursorError, RecursionError) as exc:
        raise InvalidQueryError(
            "cursor", "is not a cursor these events handed out; start again without one"
        ) from exc
    return after, commit_after


# -- responses -----------------------------------------------------------------------------------------------


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [candidate.strip().removeprefix("W/") for candidate in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def json_response(status: int, body: dict[str, Any], **headers: str) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Cache-Control": "private, no-cache", **headers},
    )


@app.exception_handler(InvalidQueryError)
def handle_invalid_query(error: InvalidQueryError) -> Response:
    return problem(400, "The query is not valid.", [field_error(error.field, error.problem)])


@app.exception_handler(OrderNotFoundError)
def handle_not_found(error: OrderNotFoundError) -> Response:
    # Another customer's order answers exactly like a missing one, so order ids do not leak.
    return problem(404, f"Order {error.order_id} not found.")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
