"""How the orders API answers each refusal of the orders context, in the one error shape (docs/api.md). Both
orders API functions install these, so an order that is not the caller's reads the same everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from eventcore.lambdas.http import field_error, install_problem_handlers, problem
from orders.errors import OrderError, OrderNotFoundError, ReturnNotAllowedError, ReturnNotFoundError
from orders.ids import is_order_id
from orders.payment_methods import CARD_DATA_REFUSED
from orders.pricing import PricingError
from orders.service import PricingUnavailableError

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

RETRY_PRICING_AFTER_SECONDS = 30
logger = Logger(child=True)


def install_order_problem_handlers(app: APIGatewayHttpResolver) -> None:
    # Card data where a payment method's token belongs: a 400 of its own, naming the field and never
    # repeating the value (nothing of the request is logged).
    install_problem_handlers(
        app,
        refusals={
            CARD_DATA_REFUSED: "Card data is never taken: send the payment provider's token for the payment "
            "method."
        },
    )

    @app.exception_handler(OrderNotFoundError)
    def _not_found(error: OrderNotFoundError) -> Response[str]:
        # Another customer's order answers exactly like a missing one, so order ids do not leak; and only
        # an id of the form the system hands out is echoed back.
        if not is_order_id(error.order_id):
            return problem(404, "Order not found.")
        return problem(404, f"{error.message[0].upper()}{error.message[1:]}.")

    @app.exception_handler(ReturnNotFoundError)
    def _no_such_return(error: ReturnNotFoundError) -> Response[str]:
        return problem(404, "Return not found.")

    @app.exception_handler(ReturnNotAllowedError)
    def _return_refused(error: ReturnNotAllowedError) -> Response[str]:
        return problem(
            409, f"{error.message[0].upper()}{error.message[1:]}.", [field_error(error.field, error.message)]
        )

    @app.exception_handler(OrderError)
    def _order_rule(error: OrderError) -> Response[str]:
        return problem(409, str(error), [field_error("status", type(error).__name__)])

    @app.exception_handler(PricingError)
    def _cannot_price(error: PricingError) -> Response[str]:
        return problem(422, "The order cannot be priced.", [field_error(error.field, error.message)])

    @app.exception_handler(PricingUnavailableError)
    def _pricing_unavailable(error: PricingUnavailableError) -> Response[str]:
        # The operator's problem, not the caller's: the log names the parameter to fix.
        logger.error("pricing configuration unavailable", parameter=error.parameter, reason=str(error))
        return problem(
            503,
            "Orders cannot be priced right now; retry later.",
            headers={"Retry-After": str(RETRY_PRICING_AFTER_SECONDS)},
        )
