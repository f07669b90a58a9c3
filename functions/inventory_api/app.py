"""Inventory staff API (scope orders/warehouse, enforced by the HTTP API's route authorisation):
POST /inventory/{sku}/receipts receives stock, PUT /inventory/{sku}/buckets splits a SKU's stock into
buckets (for a flash sale), GET /inventory/{sku} answers what is on hand, held and available, in total and
per bucket. Thin: validate, hand it to the inventory service, shape the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, ConfigDict, Field

from eventcore.lambdas.http import (
    IdempotencyKey,
    answer,
    field_error,
    install_problem_handlers,
    json_response,
    problem,
    problem_responses,
    refuse_unreadable_body,
)
from inventory import MAX_BUCKETS, StockConfigError, StockError, UnknownSkuError
from inventory.bootstrap import InventoryWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from inventory import SkuStock

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
install_problem_handlers(app)
service = InventoryWiring().inventory_service()

SkuPath = Annotated[str, Path(description="The SKU, as the catalog names it (e.g. SKU-TEA-001).")]


class ReceiptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"quantity": 24}]})
    quantity: Annotated[int, Field(gt=0, le=100_000, description="Units received.")]


class BucketsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"buckets": 8}]})
    buckets: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_BUCKETS,
            description="How many buckets the SKU's stock is kept in from now on (each decides its own "
            "reservations; more buckets, more reservations a second). Units move between them as needed.",
        ),
    ]


class BucketLevelsResponse(BaseModel):
    bucket: int
    on_hand: int = Field(description="Units the bucket holds, counting those in transit to it.")
    reserved: int
    available: int
    in_transit: int = Field(
        description="Units siblings gave this bucket that it has not recorded yet (claimed at its next need)."
    )


class StockLevelsResponse(BaseModel):
    sku: str
    on_hand: int = Field(description="Units in the warehouse, in every bucket.")
    reserved: int = Field(description="Units held for orders not yet shipped.")
    available: int = Field(description="Units an order can still reserve: on hand less reserved.")
    buckets: int = Field(description="How many buckets new reservations are spread over.")
    by_bucket: list[BucketLevelsResponse] = Field(
        description="Every bucket the SKU's stock has (a bucket beyond `buckets` is being emptied)."
    )


STAFF = ["Warehouse"]


@app.post(
    "/inventory/<sku>/receipts",
    summary="Receive stock",
    description="Adds the units received to the SKU's stock; one receipt per `Idempotency-Key`.",
    tags=STAFF,
    responses={
        201: answer("The SKU's stock after the receipt.", StockLevelsResponse),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    },
)
def receive_stock(
    sku: SkuPath, request: ReceiptRequest, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    answer = service.receive(
        sku, request.quantity, idempotency_key=idempotency_key, correlation_id=logger.get_correlation_id()
    )
    logger.info("stock received", sku=sku, quantity=request.quantity, replayed=answer.replayed)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return stock_response(201, service.stock(sku), **headers)


@app.put(
    "/inventory/<sku>/buckets",
    summary="Split a SKU's stock into buckets",
    description="Keeps the SKU's stock in `buckets` buckets from now on, while orders flow: for a flash "
    "sale, more buckets decide more reservations a second. New buckets take units from the others as "
    "their reservations need them; a bucket beyond the new count takes no new reservations and gives its "
    "units away. One split per `Idempotency-Key`.",
    tags=STAFF,
    responses={
        200: answer("The SKU's stock after the split.", StockLevelsResponse),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    },
)
def split_stock(
    sku: SkuPath, request: BucketsRequest, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    answer = service.split(
        sku, request.buckets, idempotency_key=idempotency_key, correlation_id=logger.get_correlation_id()
    )
    logger.info("stock split", sku=sku, buckets=request.buckets, recorded=answer.recorded)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return stock_response(200, service.stock(sku), **headers)


@app.get(
    "/inventory/<sku>",
    summary="Get a SKU's stock",
    tags=STAFF,
    responses={
        200: answer(
            "On hand, reserved for orders, and available: in total and per bucket.", StockLevelsResponse
        ),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    },
)
def get_stock(sku: SkuPath) -> Response[Any]:
    return stock_response(200, service.stock(sku))


def stock_response(status: int, stock: SkuStock, **headers: str) -> Response[Any]:
    body = StockLevelsResponse(
        sku=stock.sku,
        on_hand=stock.totals.on_hand,
        reserved=stock.totals.reserved,
        available=stock.totals.available,
        buckets=stock.buckets,
        by_bucket=[
            BucketLevelsResponse(
                bucket=b.bucket,
                on_hand=b.levels.on_hand,
                reserved=b.levels.reserved,
                available=b.levels.available,
                in_transit=b.in_transit,
            )
            for b in stock.by_bucket
        ],
    )
    return json_response(status, body.model_dump(mode="json"), headers, cache=True)


@app.exception_handler(UnknownSkuError)
def handle_unknown_sku(error: UnknownSkuError) -> Response[str]:
    return problem(
        404, "This SKU is not kept in the warehouse.", [field_error("sku", "not in the stock configuration")]
    )


@app.exception_handler(StockConfigError)
def handle_unavailable(error: StockConfigError) -> Response[str]:
    # The operator's problem, not the caller's: the log names the parameter to fix.
    logger.error("stock configuration unavailable", parameter=error.parameter, reason=str(error))
    return problem(503, "The warehouse cannot answer right now; retry later.", headers={"Retry-After": "30"})


@app.exception_handler(StockError)
def handle_stock_rule(error: StockError) -> Response[str]:
    return problem(409, error.message, [field_error("sku", type(error).__name__)])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return refuse_unreadable_body(event) or app.resolve(event, context)
