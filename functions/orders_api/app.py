"""Orders command API: POST /orders and POST /orders/{order_id}/cancel. Thin: validate, price, hand the
command to the Order decider through the runner, shape the answer."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from microsystem import (
    CommitTooLargeError,
    DeciderRunner,
    DynamoDBEventStore,
    IdempotencyConflictError,
    TooManyConflictsError,
    fingerprint,
)
from microsystem.http import caller_id, field_error, problem, refuse_oversized_body, validation_problem
from orders import (
    CancelOrder,
    OrderError,
    OrderNotFoundError,
    PlaceOrder,
    PricingError,
    RequestedLine,
    load_pricing_config,
    order_decider,
    price_order,
)
from orders.ids import is_order_id
from orders.views import order_document

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from microsystem import CommandResult

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
runner = DeciderRunner(
    order_decider, DynamoDBEventStore(os.environ["EVENT_LOG_TABLE"], boto3.client("dynamodb"))
)

# Idempotency keys are scoped to the customer: the same key from two customers names two orders.
ORDER_ID_NAMESPACE = uuid.UUID("5b0f6f0e-2a4e-4e0f-9a53-6d1d3c7f2b10")
MAX_KEY_LENGTH = 255


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(gt=0, le=100)]


class PlaceOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    lines: Annotated[list[LineRequest], Field(min_length=1, max_length=50)]
    destination_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
    campaign_code: Annotated[str | None, Field(max_length=32)] = None


@app.post("/orders")
def place_order(request: PlaceOrderRequest) -> Response[dict]:
    customer_id = caller_id(app.current_event)
    key = idempotency_key()
    order_id = str(uuid.uuid5(ORDER_ID_NAMESPACE, f"{customer_id}:{key}") if key else uuid.uuid4())
    command_id = f"PlaceOrder:{key or uuid.uuid4()}"
    request_fingerprint = fingerprint(request.model_dump(mode="json"))
    now = datetime.now(UTC)
    try:
        priced = price_order(
            [RequestedLine(sku=line.sku, quantity=line.quantity) for line in request.lines],
            destination_country=request.destination_country,
            campaign_code=request.campaign_code,
            config=load_pricing_config(),
            at=now,
        )
    except PricingError:
        # A retry of an order placed before its campaign ended or a SKU left the catalog: answer with it.
        placed = key and runner.applied(order_id, command_id=command_id, fingerprint=request_fingerprint)
        if placed:
            return order_response(201, placed, Location=f"/orders/{order_id}")
        raise
    command = PlaceOrder(
        order_id=order_id,
        customer_id=customer_id,
        priced=priced,
        destination_country=request.destination_country,
        at=now,
    )
    result = runner.handle(
        order_id,
        command,
        command_id=command_id,
        fingerprint=request_fingerprint,
        correlation_id=logger.get_correlation_id(),
        expect_new=True,
    )
    if not result.duplicate:
        metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="OrderValue", unit=MetricUnit.NoUnit, value=priced.total)
    logger.info("order placed", order_id=order_id, duplicate=result.duplicate, total=priced.total)
    return order_response(201, result, Location=f"/orders/{order_id}")


@app.post("/orders/<order_id>/cancel")
def cancel_order(order_id: str) -> Response[dict]:
    customer_id = caller_id(app.current_event)
    if not is_order_id(order_id):
        raise OrderNotFoundError(order_id)
    key = idempotency_key()
    command = CancelOrder(
        order_id=order_id, reason="customer_request", requested_by=customer_id, at=datetime.now(UTC)
    )
    result = runner.handle(
        order_id,
        command,
        # Scoped to the caller, like order ids: another customer's key never matches, so it cannot probe.
        command_id=f"CancelOrder:{customer_id}:{key or uuid.uuid4()}",
        fingerprint=fingerprint({"order_id": order_id, "customer_id": customer_id}),
        correlation_id=logger.get_correlation_id(),
    )
    if result.events:
        metrics.add_metric(name="OrdersCancelledByCustomer", unit=MetricUnit.Count, value=1)
    logger.info("order cancelled", order_id=order_id, recorded=len(result.events))
    return order_response(200, result)


def order_response(status: int, result: CommandResult, **headers: str) -> Response:
    if result.duplicate:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=order_document(result.state, result.version),
        headers={"ETag": f'"{result.version}"', **headers},
    )


def idempotency_key() -> str | None:
    key = app.current_event.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise InvalidIdempotencyKeyError(f"must be 1 to {MAX_KEY_LENGTH} printable characters")
    return key


class InvalidIdempotencyKeyError(ValueError):
    pass


@app.exception_handler(RequestValidationError)
def handle_invalid_request(error: RequestValidationError) -> Response:
    return validation_problem(error)


@app.exception_handler(InvalidIdempotencyKeyError)
def handle_invalid_key(error: InvalidIdempotencyKeyError) -> Response:
    return problem(
        400, "The Idempotency-Key header is not valid.", [field_error("Idempotency-Key", str(error))]
    )


@app.exception_handler(PricingError)
def handle_pricing_error(error: PricingError) -> Response:
    return problem(422, "The order cannot be priced.", [field_error(error.field, error.message)])


@app.exception_handler(OrderNotFoundError)
def handle_not_found(error: OrderNotFoundError) -> Response:
    # Another customer's order answers exactly like a missing one, so order ids do not leak.
    return problem(404, f"Order {error.order_id} not found.")


@app.exception_handler(OrderError)
def handle_order_rule(error: OrderError) -> Response:
    return problem(409, str(error), [field_error("status", type(error).__name__)])


@app.exception_handler(IdempotencyConflictError)
def handle_key_reuse(error: IdempotencyConflictError) -> Response:
    return problem(
        422,
        "This Idempotency-Key was already used with a different request body.",
        [field_error("Idempotency-Key", "reused with a different body; use a new key for a new request")],
    )


@app.exception_handler(TooManyConflictsError)
def handle_contention(error: TooManyConflictsError) -> Response:
    return problem(409, "The order is being changed concurrently; retry the request.", **{"Retry-After": "1"})


@app.exception_handler(CommitTooLargeError)
def handle_too_large(error: CommitTooLargeError) -> Response:
    return problem(413, "The order is too large to record.", [field_error("lines", str(error))])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return refuse_oversized_body(event) or app.resolve(event, context)
