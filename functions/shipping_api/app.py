"""Shipping staff API (scope orders/warehouse, enforced by the HTTP API's route authorisation):
GET /shipments?status=ready_to_ship (oldest first, cursor-paginated), GET /shipments/{shipment_id},
POST /shipments/{shipment_id}/dispatch and POST /shipments/{shipment_id}/deliver. Staff see what goes in the
parcel and where, nothing else of the customer's order. Thin: validate, ask the shipping service or
queries, shape the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from eventcore.lambdas.http import (
    ETAG,
    IdempotencyKey,
    PageSize,
    answer,
    field_error,
    install_problem_handlers,
    json_response,
    problem,
    problem_responses,
    refuse_unreadable_body,
)
from eventcore.read.cursors import MAX_CURSOR_LENGTH
from shipping import ShipmentError, ShipmentNotFoundError, ShipmentStatus
from shipping.bootstrap import ShippingWiring
from shipping.commands import ShipmentLine
from shipping.queries import shown_to_staff

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shipping import ShipmentAnswer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
install_problem_handlers(app)
shipping = ShippingWiring()
service = shipping.shipping_service()
queries = shipping.shipment_queries()

ShipmentId = Annotated[str, Path(description="The shipment id, as GET /shipments lists it (a UUID).")]


class DispatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"carrier": "PostNL", "tracking_number": "3SABCD1234567"}]},
    )
    carrier: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")]
    tracking_number: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


class ShipmentResponse(BaseModel):
    """A shipment as staff see it: what goes in the parcel and where; nothing else of the order."""

    shipment_id: str
    order_id: str
    status: ShipmentStatus
    lines: list[ShipmentLine]
    destination_country: str
    carrier: str | None
    tracking_number: str | None
    status_since: AwareDatetime | None
    updated_at: AwareDatetime
    version: int | None = Field(default=None, description="The shipment's version (not in listings).")


class ShipmentListResponse(BaseModel):
    shipments: list[ShipmentResponse] = Field(description="Oldest first in their status: the picking order.")
    next_cursor: str | None


STAFF = ["Warehouse"]


@app.get(
    "/shipments",
    summary="List shipments in a status",
    tags=STAFF,
    responses={
        200: answer("A page of shipments.", ShipmentListResponse),
        **problem_responses(400, 401, 403, 413, 415, 422),
    },
)
def list_shipments(
    status: Annotated[
        ShipmentStatus, Query(description="Which shipments: ready_to_ship is the picking queue.")
    ] = (ShipmentStatus.READY_TO_SHIP),
    limit: Annotated[PageSize, Query(description="Shipments per page (1 to 100).")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_LENGTH, description="The previous page's next_cursor.")
    ] = None,
) -> Response[Any]:
    page = queries.in_status(status, limit=limit, cursor=cursor)
    return json_response(200, {"shipments": page.shipments, "next_cursor": page.next_cursor})


@app.get(
    "/shipments/<shipment_id>",
    summary="Get a shipment",
    tags=STAFF,
    responses={
        200: answer("The shipment.", ShipmentResponse),
        **problem_responses(400, 401, 403, 404, 413, 415, 422),
    },
)
def get_shipment(shipment_id: ShipmentId) -> Response[Any]:
    return json_response(200, queries.shipment(shipment_id))


@app.post(
    "/shipments/<shipment_id>/dispatch",
    summary="Dispatch a shipment",
    description=(
        "Records the carrier and tracking number and prints the carrier's label; the stock is committed and "
        "the order shipped. The label is printed at least once per recorded dispatch, possibly again on a "
        "retry (the same Idempotency-Key, or the same carrier and tracking number): if the label fails "
        "after the dispatch is recorded, the retry prints it."
    ),
    tags=STAFF,
    responses={
        200: answer("The shipment, dispatched.", ShipmentResponse, ETag=ETAG),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
def dispatch_shipment(
    shipment_id: ShipmentId, request: DispatchRequest, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    answer = service.dispatch(
        shipment_id,
        request.carrier,
        request.tracking_number,
        idempotency_key=idempotency_key,
        correlation_id=logger.get_correlation_id(),
    )
    if answer.recorded:
        metrics.add_metric(name="ShipmentsDispatched", unit=MetricUnit.Count, value=1)
    logger.info("shipment dispatched", shipment_id=shipment_id, order_id=answer.shipment.order_id)
    return shipment_response(answer)


@app.post(
    "/shipments/<shipment_id>/deliver",
    summary="Mark a shipment delivered",
    tags=STAFF,
    responses={
        200: answer("The shipment, delivered.", ShipmentResponse, ETag=ETAG),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
def deliver_shipment(shipment_id: ShipmentId, idempotency_key: IdempotencyKey = None) -> Response[Any]:
    answer = service.deliver(
        shipment_id, idempotency_key=idempotency_key, correlation_id=logger.get_correlation_id()
    )
    if answer.recorded:
        metrics.add_metric(name="ShipmentsDelivered", unit=MetricUnit.Count, value=1)
    logger.info("shipment delivered", shipment_id=shipment_id, order_id=answer.shipment.order_id)
    return shipment_response(answer)


def shipment_response(answer: ShipmentAnswer) -> Response[Any]:
    headers = {}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    shipment = answer.shipment.model_dump(mode="json")
    # The command's answer: the shipment just entered its status (or entered it when first answered).
    shown = shown_to_staff({**shipment, "status_since": shipment["updated_at"]})
    return json_response(200, {**shown, "version": answer.version}, headers, cache=True)


@app.exception_handler(ShipmentNotFoundError)
def handle_not_found(error: ShipmentNotFoundError) -> Response[str]:
    return problem(404, "Shipment not found.")


@app.exception_handler(ShipmentError)
def handle_shipment_rule(error: ShipmentError) -> Response[str]:
    return problem(409, error.message, [field_error("status", type(error).__name__)])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return refuse_unreadable_body(event) or app.resolve(event, context)
