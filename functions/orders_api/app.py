"""Orders command API: POST /orders, POST /orders/{order_id}/cancel, POST /orders/{order_id}/returns (the
customer) and POST /orders/{order_id}/returns/{return_id}/receipt (warehouse staff, scope orders/warehouse,
checked by the gateway). Thin: validate the request, hand it to the orders service, shape the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from eventcore.lambdas.http import (
    ETAG,
    IdempotencyKey,
    RequestFieldError,
    answer,
    caller_id,
    json_response,
    problem_responses,
    refuse_unreadable_body,
)
from orders import RequestedLine
from orders.api_errors import install_order_problem_handlers
from orders.bootstrap import OrdersWiring
from orders.documents import OrderResponse, ReturnResponse
from orders.events import ItemCondition, ReceivedLine, ReturnLine
from orders.payment_methods import PaymentMethodToken
from orders.personal_details import Email, PersonalDetails, ShippingAddress, for_owner
from orders.pricing import DestinationNotServedError
from orders.service import Checkout
from orders.views import order_document

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from orders.service import OrderAnswer, ReturnAnswer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
install_order_problem_handlers(app)
orders = OrdersWiring()
service = orders.order_service()
OrderId = Annotated[str, Path(description="The order id, as POST /orders answered it (a UUID).")]
ReturnId = Annotated[str, Path(description="The return id, as POST /orders/{order_id}/returns answered it.")]


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sku: Annotated[str, Field(min_length=1, max_length=64, examples=["SKU-TEA-001"])]
    quantity: Annotated[int, Field(gt=0, le=100)]


class PlaceOrderRequest(BaseModel):
    """Where the order goes: `shipping_address`, whose `country` is the destination. `destination_country`
    (what clients sent before addresses) is still accepted beside it, and must name the same country."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "lines": [{"sku": "SKU-TEA-001", "quantity": 2}, {"sku": "SKU-MUG-001", "quantity": 1}],
                    "shipping_address": {
                        "name": "Alice Example",
                        "line1": "Oudegracht 1",
                        "city": "Utrecht",
                        "postal_code": "3511 AA",
                        "country": "NL",
                    },
                    "email": "alice@example.com",
                    "campaign_code": "WELCOME10",
                    "payment_method": "pm_card_visa",
                }
            ]
        },
    )
    lines: Annotated[list[LineRequest], Field(min_length=1, max_length=50)]
    shipping_address: ShippingAddress
    email: Email | None = None
    destination_country: Annotated[
        str | None,
        Field(pattern=r"^[A-Z]{2}$", description="Deprecated: the address's country is the destination."),
    ] = None
    campaign_code: Annotated[str | None, Field(max_length=32)] = None
    payment_method: PaymentMethodToken | None = None

    def destination(self) -> str:
        """The country the order ships to; a field-named error when the two countries given disagree."""
        country = self.shipping_address.country
        if self.destination_country not in (None, country):
            raise RequestFieldError(
                "destination_country",
                f"disagrees with shipping_address.country ({country}); send only the address",
            )
        return country


@app.post(
    "/orders",
    summary="Place an order",
    description="Prices the lines from the catalog, applies the campaign code and the shipping cost, and "
    "records the order. With an `Idempotency-Key`, a retry answers with the same order "
    "(`Idempotent-Replayed: true`), even when it could no longer be priced. The body is at most 64 KiB: "
    "1 to 50 lines of 1 to 100 each. `payment_method` is the payment provider's token (`pm_...`); anything "
    "that looks like a card number is refused (400) and never stored or logged.",
    tags=["Orders"],
    responses={
        201: answer(
            "The order, as placed (or as first placed, on a retry).",
            OrderResponse,
            ETag=ETAG,
            Location="The order's URL.",
        ),
        **problem_responses(400, 401, 403, 409, 413, 415, 422, 503),
    },
)
def place_order(request: PlaceOrderRequest, idempotency_key: IdempotencyKey = None) -> Response[Any]:
    personal = PersonalDetails(shipping_address=request.shipping_address, email=request.email)
    checkout = Checkout(
        lines=tuple(RequestedLine(sku=line.sku, quantity=line.quantity) for line in request.lines),
        destination_country=request.destination(),
        campaign_code=request.campaign_code,
        personal=personal,
        payment_method=request.payment_method,
    )
    try:
        answer = service.place(
            caller_id(app.current_event),
            checkout,
            idempotency_key=idempotency_key,
            correlation_id=logger.get_correlation_id(),
        )
    except DestinationNotServedError as error:
        raise RequestFieldError("shipping_address.country", error.message) from error  # the field they sent
    if answer.recorded:
        metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="OrderValue", unit=MetricUnit.NoUnit, value=answer.order.total)
    logger.info("order placed", order_id=answer.order.order_id, replayed=answer.replayed)
    return order_response(201, answer, Location=f"/orders/{answer.order.order_id}")


@app.post(
    "/orders/<order_id>/cancel",
    summary="Cancel an order",
    description="Cancels the caller's order before it is shipped; payment and stock are released. "
    "Cancelling a cancelled order answers it as it is.",
    tags=["Orders"],
    responses={
        200: answer("The order, cancelled.", OrderResponse, ETag=ETAG),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
def cancel_order(order_id: OrderId, idempotency_key: IdempotencyKey = None) -> Response[Any]:
    answer = service.cancel(
        order_id,
        caller_id(app.current_event),
        idempotency_key=idempotency_key,
        correlation_id=logger.get_correlation_id(),
    )
    if answer.recorded:
        metrics.add_metric(name="OrdersCancelledByCustomer", unit=MetricUnit.Count, value=1)
    logger.info("order cancelled", order_id=order_id, recorded=answer.recorded)
    return order_response(200, answer)


class ReturnLineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sku: Annotated[str, Field(min_length=1, max_length=64, examples=["SKU-TEA-001"])]
    quantity: Annotated[int, Field(gt=0, le=100)]


class ReturnRequest(BaseModel):
    """The delivered lines to return, and how many of each."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"lines": [{"sku": "SKU-TEA-001", "quantity": 1}]}]},
    )
    lines: Annotated[list[ReturnLineRequest], Field(min_length=1, max_length=50)]


class ReceivedLineRequest(ReturnLineRequest):
    condition: ItemCondition


class ReturnReceiptRequest(BaseModel):
    """What arrived in the return's parcel, line by line, and the state it is in."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"lines": [{"sku": "SKU-TEA-001", "quantity": 1, "condition": "sellable"}]}]
        },
    )
    lines: Annotated[list[ReceivedLineRequest], Field(min_length=1, max_length=50)]


class ReturnAnswerResponse(ReturnResponse):
    order_id: str


@app.post(
    "/orders/<order_id>/returns",
    summary="Return delivered lines",
    description="Asks to return some of the caller's delivered order, within the return window (30 days "
    "after delivery unless configured otherwise): outside it, or for more than is left to return, a 409. "
    "The parcel is awaited until `deadline_at`, then the return expires. Once the warehouse receives it, "
    "what is fit to sell goes back into stock and the return is refunded (docs/payments.md). With an "
    "`Idempotency-Key`, a retry answers with the same return (`Idempotent-Replayed: true`). Another "
    "customer's order is a 404.",
    tags=["Returns"],
    responses={
        201: answer("The return, as asked.", ReturnAnswerResponse, Location="The order's URL."),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
def request_return(
    order_id: OrderId, request: ReturnRequest, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    answer = service.request_return(
        order_id,
        caller_id(app.current_event),
        tuple(ReturnLine(sku=line.sku, quantity=line.quantity) for line in request.lines),
        idempotency_key=idempotency_key,
        correlation_id=logger.get_correlation_id(),
    )
    if answer.recorded:
        metrics.add_metric(name="ReturnsRequested", unit=MetricUnit.Count, value=1)
    logger.info(
        "return requested", order_id=order_id, return_id=answer.returned.return_id, replayed=answer.replayed
    )
    return return_response(201, answer, Location=f"/orders/{order_id}")


@app.post(
    "/orders/<order_id>/returns/<return_id>/receipt",
    summary="Record a return's parcel received (warehouse staff)",
    description="Warehouse staff (scope `orders/warehouse`) record what arrived in the return's parcel and "
    "the state of each line: `sellable` goes back into stock, everything received is refunded. Recording the "
    "same receipt again answers the return as it is; another, or one for an expired return, is a 409.",
    tags=["Returns"],
    responses={
        200: answer("The return, received.", ReturnAnswerResponse),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
def receive_return(
    order_id: OrderId,
    return_id: ReturnId,
    request: ReturnReceiptRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response[Any]:
    answer = service.receive_return(
        order_id,
        return_id,
        tuple(
            ReceivedLine(sku=line.sku, quantity=line.quantity, condition=line.condition)
            for line in request.lines
        ),
        idempotency_key=idempotency_key,
        correlation_id=logger.get_correlation_id(),
    )
    if answer.recorded:
        metrics.add_metric(name="ReturnsReceived", unit=MetricUnit.Count, value=1)
    logger.info("return received", order_id=order_id, return_id=return_id, replayed=answer.replayed)
    return return_response(200, answer)


def return_response(status: int, answer: ReturnAnswer, **headers: str) -> Response[Any]:
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    document = {"order_id": answer.order.order_id, **answer.returned.model_dump(mode="json")}
    return json_response(status, document, headers)


def order_response(status: int, answer: OrderAnswer, **headers: str) -> Response[Any]:
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    document = for_owner(orders.vault, order_document(answer.order, answer.version))
    return json_response(status, document, headers, cache=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return refuse_unreadable_body(event) or app.resolve(event, context)
