"""Pricing rules: catalog prices, campaign discounts and shipping, each with the error a client would see."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from orders import (
    Campaign,
    CampaignMinimumNotMetError,
    CampaignNotActiveError,
    CatalogItem,
    DestinationNotServedError,
    DuplicateSkuError,
    EmptyOrderError,
    OrderLine,
    PricedOrder,
    PricingConfig,
    RequestedLine,
    ShippingRate,
    UnknownCampaignError,
    UnknownSkuError,
    format_money,
    price_order,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STARTS = datetime(2026, 1, 1, tzinfo=UTC)
ENDS = datetime(2026, 6, 1, tzinfo=UTC)

TEA = CatalogItem(sku="SKU-TEA-001", name="Green tea", unit_price=1250)
MUG = CatalogItem(sku="SKU-MUG-001", name="Mug", unit_price=899)
POT = CatalogItem(sku="SKU-POT-001", name="Teapot", unit_price=3333)


def campaign(code: str, kind: str, value: int, min_order_value: int = 0) -> Campaign:
    return Campaign.model_validate(
        {
            "code": code,
            "kind": kind,
            "value": value,
            "starts_at": STARTS,
            "ends_at": ENDS,
            "min_order_value": min_order_value,
        }
    )


CONFIG = PricingConfig(
    currency="EUR",
    catalog={item.sku: item for item in (TEA, MUG, POT)},
    campaigns={
        c.code: c
        for c in (
            campaign("WELCOME10", "percentage", 10, min_order_value=2000),
            campaign("THIRD", "percentage", 33),
            campaign("FIVEOFF", "fixed", 500),
            campaign("HUGE", "fixed", 1_000_000),
        )
    },
    shipping={
        "NL": ShippingRate(country="NL", cost=495, free_above=5000),
        "DE": ShippingRate(country="DE", cost=695, free_above=None),
    },
)


def price(
    *lines: tuple[str, int], campaign_code: str | None = None, country: str = "DE", at: datetime = NOW
) -> PricedOrder:
    return price_order(
        [RequestedLine(sku=sku, quantity=quantity) for sku, quantity in lines],
        destination_country=country,
        campaign_code=campaign_code,
        config=CONFIG,
        at=at,
    )


class TestLines:
    def test_lines_are_priced_from_the_catalog(self) -> None:
        # GIVEN two teas and a mug, shipped to a country without free shipping
        # WHEN the order is priced
        priced = price((TEA.sku, 2), (MUG.sku, 1))

        # THEN each line carries the catalog name and price, and the totals add up
        assert priced.lines == (
            OrderLine(sku=TEA.sku, name="Green tea", quantity=2, unit_price=1250, line_total=2500),
            OrderLine(sku=MUG.sku, name="Mug", quantity=1, unit_price=899, line_total=899),
        )
        assert (priced.currency, priced.subtotal, priced.discount, priced.campaign_code) == (
            "EUR",
            3399,
            0,
            None,
        )
        assert (priced.shipping, priced.total) == (695, 3399 + 695)

    def test_an_unknown_sku_names_its_line(self) -> None:
        # GIVEN a basket whose second line is not in the catalog
        # WHEN it is priced
        with pytest.raises(UnknownSkuError) as caught:
            price((TEA.sku, 1), ("SKU-NOPE", 1))

        # THEN the error points at that line's sku
        assert caught.value.field == "lines[1].sku"
        assert "SKU-NOPE" in caught.value.message

    def test_the_same_sku_on_two_lines_is_rejected(self) -> None:
        # GIVEN the same tea on lines 0 and 2
        # WHEN it is priced
        with pytest.raises(DuplicateSkuError) as caught:
            price((TEA.sku, 1), (MUG.sku, 1), (TEA.sku, 3))

        # THEN the error names the repeated line and the first one
        assert caught.value.field == "lines[2].sku"
        assert "lines[0]" in caught.value.message

    def test_an_empty_basket_is_rejected(self) -> None:
        # GIVEN no lines / WHEN priced / THEN the error names the lines
        with pytest.raises(EmptyOrderError) as caught:
            price()

        assert caught.value.field == "lines"

    def test_a_quantity_must_be_positive(self) -> None:
        with pytest.raises(ValidationError):
            RequestedLine(sku=TEA.sku, quantity=0)


class TestCampaigns:
    def test_a_percentage_campaign_discounts_the_subtotal(self) -> None:
        # GIVEN a 10% code and a 25.00 basket
        # WHEN priced
        priced = price((TEA.sku, 2), campaign_code="WELCOME10")

        # THEN 2.50 comes off before shipping
        assert (priced.subtotal, priced.discount, priced.campaign_code) == (2500, 250, "WELCOME10")
        assert priced.total == 2500 - 250 + 695

    def test_a_percentage_discount_rounds_down_to_whole_cents(self) -> None:
        # GIVEN 33% of 8.99, which is 2.9667
        # WHEN priced
        priced = price((MUG.sku, 1), campaign_code="THIRD")

        # THEN the discount is 2.96, never a fraction of a cent and never more than 33%
        assert priced.discount == 296

    def test_a_fixed_campaign_takes_its_amount_off(self) -> None:
        # GIVEN a 5.00 off code
        # WHEN priced
        priced = price((TEA.sku, 1), campaign_code="FIVEOFF")

        # THEN
        assert (priced.discount, priced.total) == (500, 1250 - 500 + 695)

    def test_a_fixed_discount_never_exceeds_the_subtotal(self) -> None:
        # GIVEN a 10,000.00 off code on a 12.50 basket
        # WHEN priced
        priced = price((TEA.sku, 1), campaign_code="HUGE")

        # THEN the goods are free, shipping is still paid
        assert (priced.discount, priced.total) == (1250, 695)

    def test_codes_are_matched_in_any_case_and_recorded_in_upper_case(self) -> None:
        # GIVEN a code typed in lower case with stray spaces
        # WHEN priced
        priced = price((TEA.sku, 2), campaign_code=" welcome10 ")

        # THEN it matches, and the canonical code is what is recorded
        assert (priced.discount, priced.campaign_code) == (250, "WELCOME10")

    def test_an_unknown_code_is_rejected(self) -> None:
        with pytest.raises(UnknownCampaignError) as caught:
            price((TEA.sku, 2), campaign_code="FREESTUFF")

        assert caught.value.field == "campaign_code"
        assert "FREESTUFF" in caught.value.message

    def test_a_code_before_its_campaign_starts_is_rejected(self) -> None:
        with pytest.raises(CampaignNotActiveError, match="starts at 2026-01-01") as caught:
            price((TEA.sku, 2), campaign_code="FIVEOFF", at=STARTS - timedelta(microseconds=1))

        assert caught.value.field == "campaign_code"

    def test_a_code_is_active_from_its_first_instant(self) -> None:
        assert price((TEA.sku, 2), campaign_code="FIVEOFF", at=STARTS).discount == 500

    def test_a_code_is_no_longer_active_at_its_end(self) -> None:
        # GIVEN the exact end of the campaign window, which is exclusive
        # WHEN priced / THEN
        with pytest.raises(CampaignNotActiveError, match="ended at 2026-06-01"):
            price((TEA.sku, 2), campaign_code="FIVEOFF", at=ENDS)

    def test_a_campaign_minimum_is_checked_before_discount(self) -> None:
        # GIVEN a code needing 20.00 and a 21.49 basket, which the 10% discount brings to 19.35
        # WHEN priced
        priced = price((TEA.sku, 1), (MUG.sku, 1), campaign_code="WELCOME10")

        # THEN the minimum is met on the subtotal, though the discounted amount falls below it
        assert (priced.subtotal, priced.discount) == (2149, 214)

    def test_a_basket_below_the_campaign_minimum_is_rejected_with_the_minimum(self) -> None:
        # GIVEN a code needing 20.00 and two mugs, 17.98
        # WHEN priced
        with pytest.raises(CampaignMinimumNotMetError) as caught:
            price((MUG.sku, 2), campaign_code="WELCOME10")

        # THEN the message states the minimum and the order's value in major units
        assert caught.value.field == "campaign_code"
        assert "20.00 EUR" in caught.value.message
        assert "17.98 EUR" in caught.value.message


class TestShipping:
    def test_shipping_costs_the_destination_rate(self) -> None:
        assert price((TEA.sku, 1), country="NL").shipping == 495

    def test_shipping_is_free_at_the_threshold(self) -> None:
        # GIVEN a basket of exactly 50.00 to NL, free from 50.00
        # WHEN priced / THEN
        assert price((TEA.sku, 4), country="NL").shipping == 0

    def test_shipping_is_charged_just_below_the_threshold(self) -> None:
        # GIVEN 50.00 of tea, brought to 45.00 by a 10% code, to NL: the threshold applies after discount
        # WHEN priced
        priced = price((TEA.sku, 4), campaign_code="WELCOME10", country="NL")

        # THEN
        assert (priced.subtotal - priced.discount, priced.shipping) == (4500, 495)

    def test_shipping_is_charged_one_cent_below_the_threshold(self) -> None:
        config = CONFIG.model_copy(
            update={"catalog": {"SKU-X": CatalogItem(sku="SKU-X", name="X", unit_price=4999)}}
        )
        priced = price_order(
            [RequestedLine(sku="SKU-X", quantity=1)],
            destination_country="NL",
            campaign_code=None,
            config=config,
            at=NOW,
        )

        assert priced.shipping == 495

    def test_an_unserved_destination_lists_the_served_ones(self) -> None:
        with pytest.raises(DestinationNotServedError) as caught:
            price((TEA.sku, 1), country="US")

        assert caught.value.field == "destination_country"
        assert "'US'" in caught.value.message
        assert "DE, NL" in caught.value.message


class TestMoney:
    @pytest.mark.parametrize(
        ("amount", "currency", "text"),
        [
            (2000, "EUR", "20.00 EUR"),
            (5, "EUR", "0.05 EUR"),
            (1500, "JPY", "1500 JPY"),
            (-250, "EUR", "-2.50 EUR"),
        ],
    )
    def test_amounts_read_in_major_units(self, amount: int, currency: str, text: str) -> None:
        assert format_money(amount, currency) == text

    def test_a_priced_order_that_does_not_add_up_cannot_exist(self) -> None:
        line = OrderLine(sku=TEA.sku, name="Green tea", quantity=1, unit_price=1250, line_total=1250)

        with pytest.raises(ValidationError, match="total must be"):
            PricedOrder(
                lines=(line,),
                currency="EUR",
                subtotal=1250,
                discount=0,
                campaign_code=None,
                shipping=0,
                total=1,
            )


# -- property ------------------------------------------------------------------------------------------------

skus = st.from_regex(r"SKU-[A-Z0-9]{1,8}", fullmatch=True)


@st.composite
def baskets(draw: st.DrawFn) -> tuple[PricingConfig, list[RequestedLine], str | None]:
    prices = draw(st.dictionaries(skus, st.integers(1, 1_000_000), min_size=1, max_size=8))
    chosen = draw(st.lists(st.sampled_from(sorted(prices)), min_size=1, max_size=len(prices), unique=True))
    lines = [RequestedLine(sku=sku, quantity=draw(st.integers(1, 1000))) for sku in chosen]
    kind = draw(st.sampled_from(["percentage", "fixed", None]))
    campaigns = {}
    if kind is not None:
        value = draw(st.integers(1, 100) if kind == "percentage" else st.integers(1, 10_000_000))
        campaigns["CODE"] = campaign("CODE", kind, value)
    free_above = draw(st.none() | st.integers(0, 10_000_000))
    config = PricingConfig(
        currency="EUR",
        catalog={sku: CatalogItem(sku=sku, name=sku.lower(), unit_price=p) for sku, p in prices.items()},
        campaigns=campaigns,
        shipping={"NL": ShippingRate(country="NL", cost=draw(st.integers(0, 10_000)), free_above=free_above)},
    )
    return config, lines, "code" if kind else None


@given(baskets())
def test_any_valid_basket_adds_up(basket: tuple[PricingConfig, list[RequestedLine], str | None]) -> None:
    # GIVEN any valid basket, campaign and shipping rate
    config, lines, code = basket

    # WHEN it is priced
    priced = price_order(lines, destination_country="NL", campaign_code=code, config=config, at=NOW)

    # THEN the totals are consistent and the discount is within the subtotal
    assert priced.total == priced.subtotal - priced.discount + priced.shipping
    assert 0 <= priced.discount <= priced.subtotal
    assert priced.subtotal == sum(line.quantity * config.catalog[line.sku].unit_price for line in lines)
