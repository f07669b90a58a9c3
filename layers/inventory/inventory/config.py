"""The warehouse's configuration: which SKUs it keeps and their opening balances, from one SSM parameter
(JSON), cached per warm container by Powertools parameters like the orders' catalog."""

from __future__ import annotations

import os
from typing import Annotated

from aws_lambda_powertools.utilities.parameters import get_parameter
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventcore.validation import summary
from inventory.commands import Sku

DEFAULT_MAX_AGE = 300
PARAMETER_ENV = "INITIAL_STOCK_PARAMETER"


class StockConfigError(Exception):
    """The stock parameter is missing or malformed; `parameter` names it when known."""

    def __init__(self, detail: str, parameter: str | None = None) -> None:
        where = f"initial stock (SSM parameter {parameter!r})" if parameter else "initial stock"
        super().__init__(f"{where}: {detail}")
        self.parameter = parameter


class _Opening(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sku: Sku
    quantity: Annotated[int, Field(ge=0, le=1_000_000)]


class _StockDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    stock: list[_Opening]


def parse_initial_stock(document: object) -> dict[str, int]:
    """`{"stock": [{"sku": ..., "quantity": ...}]}` -> SKU -> opening balance."""
    try:
        parsed = _StockDocument.model_validate(document)
    except ValidationError as error:
        raise StockConfigError(summary(error.errors())) from error
    balances: dict[str, int] = {}
    for opening in parsed.stock:
        if opening.sku in balances:
            raise StockConfigError(f"sku {opening.sku!r} appears more than once")
        balances[opening.sku] = opening.quantity
    return balances


def load_initial_stock(*, max_age: int = DEFAULT_MAX_AGE) -> dict[str, int]:
    """The parameter named by INITIAL_STOCK_PARAMETER, cached for `max_age` seconds."""
    name = os.environ.get(PARAMETER_ENV)
    if not name:
        raise StockConfigError(f"environment variable {PARAMETER_ENV} is not set")
    try:
        return parse_initial_stock(get_parameter(name, transform="json", max_age=max_age))
    except (GetParameterError, TransformParameterError) as error:
        raise StockConfigError(f"cannot be read: {error}", name) from error
    except StockConfigError as error:
        raise StockConfigError(str(error).removeprefix("initial stock: "), name) from error
