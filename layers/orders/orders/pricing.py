"""Pricing an order: catalog prices, a campaign code's discount and the shipping cost, as pure functions over
a `PricingConfig`. Money is integer minor units in the config's one currency; no I/O and no clock here."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

Sku = Annotated[str, Field(min_length=1, max_length=64)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, upper case")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, upper case")]
MinorUnits = Annotated[int, Field(ge=0)]

# ISO 4217 currencies without the usual two decimals; anything not listed here has two.
_MINOR_UNIT_DIGITS = {"BHD": 3, "CLP": 0, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- configuration -------------------------------------------------------------------------------------------


class CatalogItem(_Model):
    sku: Sku
    name: str = Field(min_length=1)
    unit_price: int = Field(gt=0)


class Campaign(_Model):
    """A campaign code, active for `starts_at <= at < ends_at`. `value` is a percentage (1..100) for
    `percentage` campaigns and an amount in minor units for `fixed` ones."""

    code: str = Field(min_length=1, max_length=64)
    kind: Literal["percentage", "fixed"]
    value: int = Field(gt=0)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    min_order_value: MinorUnits = 0

    @field_validator("code")
    @classmethod
    def _normalise_code(cls, code: str) -> str:
        # Customers type codes in any case; one canonical form keeps lookups and stored events consistent.
        return code.upper()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind == "percentage" and self.value > 100:
            raise ValueError(f"a percentage campaign's value must be 1..100, got {self.value}")
        if self.ends_at <= self.starts_at:
            raise ValueError("a campaign must end after it starts")
        return self


class ShippingRate(_Model):
    """Shipping to one country: `cost`, or nothing when the discounted subtotal reaches `free_above`."""

    country: CountryCode
    cost: MinorUnits
    free_above: MinorUnits | None = None


class PricingConfig(_Model):
    """Everything pricing depends on. Dict keys are the items' own sku, (upper-case) code and country."""

    currency: CurrencyCode
    catalog: dict[str, CatalogItem]
    campaigns: dict[str, Campaign]
    shipping: dict[str, ShippingRate]

    @field_validator("campaigns", mode="before")
    @classmethod
    def _normalise_campaign_keys(cls, campaigns: object) -> object:
        if isinstance(campaigns, dict):
            return {str(key).upper(): value for key, value in campaigns.items()}
        return campaigns

    @model_validator(mode="after")
    def _check_keys(self) -> Self:
        keyed: tuple[tuple[str, dict[str, str]], ...] = (
            ("catalog", {key: item.sku for key, item in self.catalog.items()}),
            ("campaigns", {key: campaign.code for key, campaign in self.campaigns.items()}),
            ("shipping", {key: rate.country for key, rate in self.shipping.items()}),
        )
        for label, entries in keyed:
            for key, own_key in entries.items():
                if key != own_key:
                    raise ValueError(f"{label}: key {key!r} does not match its entry {own_key!r}")
        return self


# -- request and result --------------------------------------------------------------------------------------


class RequestedLine(_Model):
    sku: Sku
    quantity: int = Field(gt=0)


class OrderLine(_Model):
    """One priced line, as the order and its `OrderCreated` event record it."""

    sku: str
    name: str
    quantity: int = Field(gt=0)
    unit_price: MinorUnits
    line_total: MinorUnits

    @model_validator(mode="after")
    def _check_total(self) -> Self:
        if self.line_total != self.quantity * self.unit_price:
            raise ValueError(f"line_total {self.line_total} != quantity * unit_price for {self.sku}")
        return self


class PricedOrder(_Model):
    """A priced basket. Its arithmetic is checked on construction, so a PricedOrder always adds up."""

    lines: tuple[OrderLine, ...] = Field(min_length=1)
    currency: CurrencyCode
    subtotal: MinorUnits
    discount: MinorUnits
    campaign_code: str | None
    shipping: MinorUnits
    total: MinorUnits

    @model_validator(mode="after")
    def _check_sums(self) -> Self:
        if self.subtotal != sum(line.line_total for line in self.lines):
            raise ValueError("subtotal must be the sum of the line totals")
        if self.discount > self.subtotal:
            raise ValueError("discount cannot exceed the subtotal")
        if self.total != self.subtotal - self.discount + self.shipping:
            raise ValueError("total must be subtotal - discount + shipping")
        return self


# -- errors --------------------------------------------------------------------------------------------------


class PricingError(Exception):
    """The request cannot be priced. `field` is the path of the offending input, as the API returns it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class EmptyOrderError(PricingError):
    def __init__(self) -> None:
        super().__init__("lines", "an order needs at least one line")


class UnknownSkuError(PricingError):
    def __init__(self, index: int, sku: str) -> None:
        super().__init__(f"lines[{index}].sku", f"unknown SKU {sku!r}; it is not in the catalog")
        self.sku = sku


class DuplicateSkuError(PricingError):
    def __init__(self, index: int, sku: str, first_index: int) -> None:
        super().__init__(
            f"lines[{index}].sku",
            f"SKU {sku!r} already appears in lines[{first_index}]; put its whole quantity on one line",
        )
        self.sku = sku


class UnknownCampaignError(PricingError):
    def __init__(self, code: str) -> None:
        super().__init__("campaign_code", f"unknown campaign code {code!r}")
        self.code = code


class CampaignNotActiveError(PricingError):
    def __init__(self, campaign: Campaign, at: datetime) -> None:
        if at < campaign.starts_at:
            when = f"starts at {campaign.starts_at.isoformat()}"
        else:
            when = f"ended at {campaign.ends_at.isoformat()}"
        super().__init__("campaign_code", f"campaign {campaign.code!r} is not active: it {when}")
        self.code = campaign.code


class CampaignMinimumNotMetError(PricingError):
    def __init__(self, campaign: Campaign, subtotal: int, currency: str) -> None:
        super().__init__(
            "campaign_code",
            f"campaign {campaign.code!r} needs an order of at least "
            f"{format_money(campaign.min_order_value, currency)} before discount; "
            f"this order comes to {format_money(subtotal, currency)}",
        )
        self.code = campaign.code
        self.min_order_value = campaign.min_order_value


class DestinationNotServedError(PricingError):
    def __init__(self, country: str, served: Sequence[str]) -> None:
        super().__init__(
            "destination_country",
            f"we do not ship to {country!r}; served countries: {', '.join(sorted(served)) or 'none'}",
        )
        self.country = country
        self.served = tuple(sorted(served))


# -- pricing -------------------------------------------------------------------------------------------------


def format_money(amount: int, currency: str) -> str:
    """Minor units as major units for people: `format_money(2000, "EUR") == "20.00 EUR"`."""
    digits = _MINOR_UNIT_DIGITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    return f"{sign}{major}.{minor:0{digits}d} {currency}" if digits else f"{sign}{major} {currency}"


def price_order(
    lines: Sequence[RequestedLine],
    *,
    destination_country: str,
    campaign_code: str | None,
    config: PricingConfig,
    at: datetime,
) -> PricedOrder:
    """Price a basket, or raise the PricingError naming the first field at fault."""
    if at.tzinfo is None:
        raise ValueError("price_order needs a timezone-aware `at`")
    priced = _price_lines(lines, config)
    subtotal = sum(line.line_total for line in priced)
    code, discount = _discount(campaign_code, subtotal, config, at)
    shipping = _shipping(destination_country, subtotal - discount, config)
    return PricedOrder(
        lines=priced,
        currency=config.currency,
        subtotal=subtotal,
        discount=discount,
        campaign_code=code,
        shipping=shipping,
        total=subtotal - discount + shipping,
    )


def _price_lines(lines: Sequence[RequestedLine], config: PricingConfig) -> tuple[OrderLine, ...]:
    if not lines:
        raise EmptyOrderError()
    seen: dict[str, int] = {}
    priced: list[OrderLine] = []
    for index, line in enumerate(lines):
        item = config.catalog.get(line.sku)
        if item is None:
            raise UnknownSkuError(index, line.sku)
        # Rejected rather than merged: two lines for one SKU is usually a client bug worth surfacing.
        if line.sku in seen:
            raise DuplicateSkuError(index, line.sku, seen[line.sku])
        seen[line.sku] = index
        priced.append(
            OrderLine(
                sku=item.sku,
                name=item.name,
                quantity=line.quantity,
                unit_price=item.unit_price,
                line_total=item.unit_price * line.quantity,
            )
        )
    return tuple(priced)


def _discount(code: str | None, subtotal: int, config: PricingConfig, at: datetime) -> tuple[str | None, int]:
    if code is None or not code.strip():
        return None, 0
    campaign = config.campaigns.get(code.strip().upper())
    if campaign is None:
        raise UnknownCampaignError(code)
    if not campaign.starts_at <= at < campaign.ends_at:
        raise CampaignNotActiveError(campaign, at)
    if subtotal < campaign.min_order_value:
        raise CampaignMinimumNotMetError(campaign, subtotal, config.currency)
    if campaign.kind == "percentage":
        # Rounded down to whole minor units, so the discount never exceeds the advertised percentage.
        return campaign.code, subtotal * campaign.value // 100
    return campaign.code, min(campaign.value, subtotal)


def _shipping(country: str, discounted_subtotal: int, config: PricingConfig) -> int:
    rate = config.shipping.get(country)
    if rate is None:
        raise DestinationNotServedError(country, list(config.shipping))
    if rate.free_above is not None and discounted_subtotal >= rate.free_above:
        return 0
    return rate.cost
