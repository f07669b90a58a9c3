"""Inventory staff API (scope orders/warehouse, enforced by the HTTP API's route authorisation):
POST /inventory/{sku}/receipts receives stock, GET /inventory/{sku} answers what is on hand, held and
available. Thin: validate, hand it to the inventory service, shape the answer."""

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
from inventory import StockConfigError, StockError, UnknownSkuError
from inventory.bootstrap import InventoryWiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from inventory import StockLevels

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


class StockLevelsResponse(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int


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
    return levels_response(201, answer.levels, **headers)


@app.get(
    "/inventory/<sku>",
    summary="Get a SKU's stock",
    tags=STAFF,
    responses={
        200: answer("On hand, reserved for orders, and available.", StockLevelsResponse),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    },
)
def get_stock(sku: SkuPath) -> Response[Any]:
    return levels_response(200, service.levels(sku))


def levels_response(status: int, levels: StockLevels, **headers: str) -> Response[Any]:
    body = StockLevelsResponse(
        sku=levels.sku, on_hand=levels.on_hand, reserved=levels.reserved, available=levels.available
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
