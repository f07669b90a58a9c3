"""Pricing configuration from three SSM parameters (catalog, campaigns, shipping rates), JSON, cached per warm
container by Powertools parameters so changing a price needs no deploy and costs no read per request."""

import os
from typing import Any

from aws_lambda_powertools.utilities.parameters import get_parameter
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from pydantic import BaseModel, ConfigDict, ValidationError

from orders.pricing import Campaign, CatalogItem, PricingConfig, ShippingRate

DEFAULT_MAX_AGE = 300
DEFAULT_CURRENCY = "EUR"

# Which environment variable names the SSM parameter for each part of the config.
PARAMETER_ENV = {
    "catalog": "CATALOG_PARAMETER",
    "campaigns": "CAMPAIGNS_PARAMETER",
    "shipping": "SHIPPING_PARAMETER",
}


class PricingConfigError(Exception):
    """A pricing parameter is missing or malformed. `part` is catalog, campaigns or shipping; `parameter` is
    the SSM parameter's name when known."""

    def __init__(self, part: str, detail: str, parameter: str | None = None) -> None:
        where = f"pricing {part} (SSM parameter {parameter!r})" if parameter else f"pricing {part}"
        super().__init__(f"{where}: {detail}")
        self.part = part
        self.detail = detail
        self.parameter = parameter


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _CatalogDocument(_Document):
    items: list[CatalogItem]


class _CampaignsDocument(_Document):
    campaigns: list[Campaign]


class _ShippingDocument(_Document):
    rates: list[ShippingRate]


def parse_pricing_config(
    catalog: dict[str, Any], campaigns: dict[str, Any], shipping: dict[str, Any], currency: str
) -> PricingConfig:
    """Build the PricingConfig from the three JSON documents, or raise PricingConfigError naming the part."""
    items = _parse("catalog", _CatalogDocument, catalog).items
    codes = _parse("campaigns", _CampaignsDocument, campaigns).campaigns
    rates = _parse("shipping", _ShippingDocument, shipping).rates
    _reject_duplicates("catalog", "sku", [item.sku for item in items])
    _reject_duplicates("campaigns", "code", [campaign.code for campaign in codes])
    _reject_duplicates("shipping", "country", [rate.country for rate in rates])
    try:
        return PricingConfig(
            currency=currency,
            catalog={item.sku: item for item in items},
            campaigns={campaign.code: campaign for campaign in codes},
            shipping={rate.country: rate for rate in rates},
        )
    except ValidationError as error:
        raise PricingConfigError("currency", f"{currency!r} is not an ISO 4217 code such as EUR") from error


def load_pricing_config(*, max_age: int = DEFAULT_MAX_AGE) -> PricingConfig:
    """Read the three parameters named by CATALOG_PARAMETER, CAMPAIGNS_PARAMETER and SHIPPING_PARAMETER, in
    the currency CURRENCY (default EUR). Values are cached for `max_age` seconds."""
    names: dict[str, str] = {}
    for part, variable in PARAMETER_ENV.items():
        name = os.environ.get(variable)
        if not name:
            raise PricingConfigError(part, f"environment variable {variable} is not set")
        names[part] = name
    documents = {part: _fetch(part, name, max_age) for part, name in names.items()}
    currency = os.environ.get("CURRENCY") or DEFAULT_CURRENCY
    try:
        return parse_pricing_config(**documents, currency=currency)
    except PricingConfigError as error:
        raise PricingConfigError(error.part, error.detail, names.get(error.part)) from error


def _fetch(part: str, name: str, max_age: int) -> dict[str, Any]:
    try:
        value = get_parameter(name, transform="json", max_age=max_age)
    except TransformParameterError as error:
        raise PricingConfigError(part, f"not valid JSON: {error}", name) from error
    except GetParameterError as error:
        raise PricingConfigError(part, f"cannot be read: {error}", name) from error
    if not isinstance(value, dict):
        raise PricingConfigError(part, f"must be a JSON object, got {type(value).__name__}", name)
    return value


def _parse[D: _Document](part: str, model: type[D], data: Any) -> D:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc']) or '(document)'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise PricingConfigError(part, problems) from error


def _reject_duplicates(part: str, key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PricingConfigError(part, f"{key} {value!r} appears more than once")
        seen.add(value)
