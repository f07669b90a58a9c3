"""Orders query API: GET /orders (the caller's orders, newest first), GET /orders/{order_id} (from the read
model, or rebuilt from the log: consistent, as of a version, as of a time) and GET /orders/{order_id}/events
(the audit trail). Thin: declare and validate the query, ask the orders queries, shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BeforeValidator, Field

from eventcore.lambdas.http import (
    ETAG,
    IfNoneMatch,
    PageSize,
    answer,
    caller_id,
    field_error,
    json_response,
    problem,
    problem_responses,
    refuse_unreadable_body,
    revalidated,
    whole_number,
)
from eventcore.read.cursors import MAX_CURSOR_LENGTH
from orders.api_errors import install_order_problem_handlers
from orders.bootstrap import OrdersWiring
from orders.documents import OrderEventsResponse, OrderListResponse, OrderResponse

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
install_order_problem_handlers(app)
orders = OrdersWiring()
queries = orders.order_queries()


def _iso_time(value: object) -> object:
    """ISO 8601 with a time zone, and nothing else (pydantic alone would also read Unix timestamps)."""
    if not isinstance(value, str):
        return value
    try:
        # An unencoded '+' in a query string arrives as a space: 10:00:00 01:00 means 10:00:00+01:00.
        moment = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise ValueError(f"must be an ISO 8601 time, e.g. 2026-11-26T10:15:00Z, got {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise ValueError("must include a time zone, e.g. a trailing Z for UTC")
    return moment


Version = Annotated[int, whole_number(1), Field(ge=1)]
Cursor = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, description="The `next_cursor` of the previous page, as it was."),
]
OrderId = Annotated[str, Path(description="The order id, as POST /orders answered it (a UUID).")]
Moment = Annotated[datetime, BeforeValidator(_iso_time)]


@app.get(
    "/orders",
    summary="List my orders",
    description="The caller's orders, newest first, from the read model (it follows the log within moments).",
    tags=["Orders"],
    responses={
        200: {
            "description": "A page of orders.",
            "content": {"application/json": {"model": OrderListResponse}},
        },
        **problem_responses(400, 401, 403, 413, 415, 422),
    },
)
def list_orders(
    limit: Annotated[PageSize, Query(description="Orders per page (1 to 100).")] = 20,
    cursor: Cursor = None,
) -> Response[Any]:
    page = queries.orders_of(caller_id(app.current_event), limit=limit, cursor=cursor)
    return json_response(200, {"orders": page.orders, "next_cursor": page.next_cursor})


@app.get(
    "/orders/<order_id>",
    summary="Get an order",
    description="The caller's order from the read model; `consistent=true` reads the log instead. `version` "
    "or `asOf` (not both) rebuild the order as it was. Another customer's order is not found.",
    tags=["Orders"],
    responses={
        200: answer("The order.", OrderResponse, ETag=ETAG),
        304: answer("Not modified: `If-None-Match` names the document as it is.", ETag=ETAG),
        **problem_responses(400, 401, 403, 404, 413, 415, 422),
    },
)
def get_order(
    order_id: OrderId,
    version: Annotated[
        Version | None,
        Query(description="The order as it was after this version (time travel)."),
    ] = None,
    as_of: Annotated[
        Moment | None,
        Query(alias="asOf", description="The order as it was at this time (ISO 8601 with a time zone)."),
    ] = None,
    consistent: Annotated[
        bool, Query(description="Read the log instead of the read model: reflects every acknowledged change.")
    ] = False,
    if_none_match: IfNoneMatch = None,
) -> Response[Any]:
    customer_id = caller_id(app.current_event)
    if version is not None and as_of is not None:
        return problem(
            400,
            "The request is not valid.",
            [field_error("asOf", "give either version or asOf, not both")],
        )
    if version is not None or as_of is not None:
        document = queries.order_as_of(order_id, customer_id, version=version, at=as_of)
    else:
        document = queries.order(order_id, customer_id, consistent=consistent)
    return revalidated(if_none_match, document)


@app.get(
    "/orders/<order_id>/events",
    summary="Get an order's events",
    description="The audit trail: every event recorded for the caller's order, oldest first.",
    tags=["Orders"],
    responses={
        200: answer("A page of events.", OrderEventsResponse),
        **problem_responses(400, 401, 403, 404, 413, 415, 422),
    },
)
def get_order_events(
    order_id: OrderId,
    limit: Annotated[PageSize, Query(description="Events per page (1 to 100).")] = 50,
    cursor: Cursor = None,
) -> Response[Any]:
    page = queries.events(order_id, caller_id(app.current_event), limit=limit, cursor=cursor)
    return json_response(
        200, {"order_id": page.order_id, "events": page.events, "next_cursor": page.next_cursor}
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return refuse_unreadable_body(event) or app.resolve(event, context)
