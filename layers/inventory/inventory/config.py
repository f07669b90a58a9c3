"""The warehouse's configuration: which SKUs it keeps and their opening balances, from one SSM parameter
(JSON), cached per warm container by Powertools parameters like the orders' catalog."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.utilities.parameters import get_parameter
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventcore.validation import summary
from inventory.commands import BucketCount, Sku

DEFAULT_MAX_AGE = 300
PARAMETER_ENV = "INITIAL_STOCK_PARAMETER"


class StockConfigError(Exception):
    """The stock parameter is missing or malformed; `parameter` names it when known."""

    def __init__(self, detail: str, parameter: str | None = None) -> None:
        where = f"initial stock (SSM parameter {parameter!r})" if parameter else "initial stock"
        super().__init__(f"{where}: {detail}")
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class StockOpening:
    """A SKU's opening balance and the number of buckets its stock opens in (inventory.buckets): staff can
    split it differently later (PUT /inventory/{sku}/buckets); the configuration counts only at opening."""

    quantity: int
    buckets: int = 1


class _Opening(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sku: Sku
    quantity: Annotated[int, Field(ge=0, le=1_000_000)]
    buckets: BucketCount = 1


class _StockDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    stock: list[_Opening]


def parse_initial_stock(document: object) -> dict[str, StockOpening]:
    """`{"stock": [{"sku": ..., "quantity": ..., "buckets": ...}]}` -> SKU -> its opening (`buckets`
    optional, 1 by default)."""
    try:
        parsed = _StockDocument.model_validate(document)
    except ValidationError as error:
        raise StockConfigError(summary(error.errors())) from error
    openings: dict[str, StockOpening] = {}
    for opening in parsed.stock:
        if opening.sku in openings:
            raise StockConfigError(f"sku {opening.sku!r} appears more than once")
        openings[opening.sku] = StockOpening(opening.quantity, opening.buckets)
    return openings


def load_initial_stock(*, max_age: int = DEFAULT_MAX_AGE) -> dict[str, StockOpening]:
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
