"""Privacy API: a customer erases their own personal data (DELETE /customers/me/personal-data), and privacy
staff (scope orders/privacy, enforced by the HTTP API's route authorisation) erase a given customer's
(DELETE /customers/{customer_id}/personal-data). Thin: check who asks, hand it to the privacy service,
answer what was done; never the data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import AwareDatetime, BaseModel

from eventcore.lambdas.http import (
    MAX_SUBJECT_LENGTH,
    IdempotencyKey,
    answer,
    caller_id,
    install_problem_handlers,
    json_response,
    problem,
    problem_responses,
    refuse_unreadable_body,
)
from orders.bootstrap import OrdersWiring
from orders.privacy import Requester

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
install_problem_handlers(app)
service = OrdersWiring().privacy_service()

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_SUBJECT_LENGTH, description="The customer's id: their token's `sub`."),
]


class ErasureResponse(BaseModel):
    """What was done, never the data: the customer's personal data is unreadable everywhere from now on."""

    customer_id: str
    personal_data: Literal["erased"]
    erased_at: AwareDatetime | None  # null when the customer never gave any


ERASED = answer("Erased (or already erased).", ErasureResponse)


@app.delete(
    "/customers/me/personal-data",
    summary="Erase my personal data",
    description="Destroys the caller's data key: their addresses and emails become unreadable in every "
    "order, shipment and read model; the orders themselves stay.",
    tags=["Privacy"],
    responses={200: ERASED, **problem_responses(400, 401, 403, 409, 413, 415, 422)},
)
def erase_my_personal_data(idempotency_key: IdempotencyKey = None) -> Response[Any]:
    return erase(caller_id(app.current_event), "customer", idempotency_key)


@app.delete(
    "/customers/<customer_id>/personal-data",
    summary="Erase a customer's personal data",
    description="Privacy staff erase the personal data of the customer with this id.",
    tags=["Privacy"],
    responses={200: ERASED, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
)
def erase_a_customers_personal_data(
    customer_id: CustomerId, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    caller_id(app.current_event)  # the staff member's token, checked like any other
    if not customer_id.isprintable():
        return problem(404, "Customer not found.")
    return erase(customer_id, "privacy_staff", idempotency_key)


def erase(customer_id: str, requested_by: Requester, idempotency_key: str | None) -> Response[Any]:
    erasure = service.erase(
        customer_id,
        requested_by=requested_by,
        idempotency_key=idempotency_key,
        correlation_id=logger.get_correlation_id(),
    )
    if erasure.destroyed:
        metrics.add_metric(name="PersonalDataErased", unit=MetricUnit.Count, value=1)
    logger.info("personal data erased", destroyed=erasure.destroyed, requested_by=requested_by)
    body = {
        "customer_id": customer_id,
        "personal_data": "erased",
        "erased_at": erasure.erased_at.isoformat() if erasure.erased_at else None,
    }
    headers = {"Idempotent-Replayed": "true"} if erasure.replayed else {}
    return json_response(200, body, headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return refuse_unreadable_body(event) or app.resolve(event, context)
