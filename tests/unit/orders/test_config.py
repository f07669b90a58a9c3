"""Pricing configuration: parsing the three JSON documents, and loading them from SSM through Powertools."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from orders import PricingConfigError, load_pricing_config, parse_pricing_config
from tests.support.aws import moto

CATALOG = {
    "items": [
        {"sku": "SKU-TEA-001", "name": "Green tea", "unit_price": 1250},
        {"sku": "SKU-MUG-001", "name": "Mug", "unit_price": 899},
    ]
}
CAMPAIGNS = {
    "campaigns": [
        {
            "code": "welcome10",
            "kind": "percentage",
            "value": 10,
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2099-01-01T00:00:00Z",
            "min_order_value": 2000,
        }
    ]
}
SHIPPING = {"rates": [{"country": "NL", "cost": 495, "free_above": 5000}, {"country": "DE", "cost": 695}]}


@pytest.fixture(autouse=True)
def _fresh_parameter_cache() -> Iterator[None]:
    # Powertools caches parameters per process; a value left by one test must not answer another.
    parameters.clear_caches()
    yield
    parameters.clear_caches()


class TestParsePricingConfig:
    def test_the_three_documents_become_one_config(self) -> None:
        # GIVEN the documents as the template holds them
        # WHEN parsed
        config = parse_pricing_config(CATALOG, CAMPAIGNS, SHIPPING, "EUR")

        # THEN everything is keyed for lookup, codes in upper case, times aware
        assert config.currency == "EUR"
        assert config.catalog["SKU-TEA-001"].unit_price == 1250
        assert sorted(config.shipping) == ["DE", "NL"]
        assert config.shipping["DE"].free_above is None
        welcome = config.campaigns["WELCOME10"]
        assert welcome.starts_at == datetime(2026, 1, 1, tzinfo=UTC)
        assert welcome.min_order_value == 2000

    @pytest.mark.parametrize(
        ("catalog", "campaigns", "shipping", "part", "detail"),
        [
            (
                {"items": [{"sku": "S", "name": "n", "unit_price": 0}]},
                CAMPAIGNS,
                SHIPPING,
                "catalog",
                "unit_price",
            ),
            ({"products": []}, CAMPAIGNS, SHIPPING, "catalog", "items"),
            (CATALOG, {"campaigns": [{"code": "X"}]}, SHIPPING, "campaigns", "campaigns.0.kind"),
            (CATALOG, CAMPAIGNS, {"rates": [{"country": "nl", "cost": 1}]}, "shipping", "rates.0.country"),
            (CATALOG, CAMPAIGNS, {"rates": [{"country": "NL", "cost": 1}] * 2}, "shipping", "'NL'"),
        ],
    )
    def test_a_malformed_document_is_named_with_what_is_wrong(
        self,
        catalog: dict[str, Any],
        campaigns: dict[str, Any],
        shipping: dict[str, Any],
        part: str,
        detail: str,
    ) -> None:
        with pytest.raises(PricingConfigError) as caught:
            parse_pricing_config(catalog, campaigns, shipping, "EUR")

        assert caught.value.part == part
        assert detail in caught.value.detail

    def test_a_percentage_above_100_is_rejected(self) -> None:
        campaigns = {"campaigns": [{**CAMPAIGNS["campaigns"][0], "value": 150}]}

        with pytest.raises(PricingConfigError, match=r"1\.\.100"):
            parse_pricing_config(CATALOG, campaigns, SHIPPING, "EUR")

    def test_a_bad_currency_is_rejected(self) -> None:
        with pytest.raises(PricingConfigError, match="ISO 4217") as caught:
            parse_pricing_config(CATALOG, CAMPAIGNS, SHIPPING, "euro")

        assert caught.value.part == "currency"


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # (the account's region and credentials: tests/conftest.py, for every test)
    monkeypatch.setenv("CATALOG_PARAMETER", "/orders/test/catalog")
    monkeypatch.setenv("CAMPAIGNS_PARAMETER", "/orders/test/campaigns")
    monkeypatch.setenv("SHIPPING_PARAMETER", "/orders/test/shipping")
    monkeypatch.delenv("CURRENCY", raising=False)
    with moto():
        client = boto3.client("ssm")
        for name, document in (
            ("/orders/test/catalog", CATALOG),
            ("/orders/test/campaigns", CAMPAIGNS),
            ("/orders/test/shipping", SHIPPING),
        ):
            client.put_parameter(Name=name, Type="String", Value=json.dumps(document))
        yield client


class TestLoadPricingConfig:
    def test_the_config_is_read_from_the_three_parameters(self, ssm: Any) -> None:
        # GIVEN the three parameters in SSM and no CURRENCY set
        # WHEN loaded
        config = load_pricing_config()

        # THEN it equals the parsed documents, in euros by default
        assert config == parse_pricing_config(CATALOG, CAMPAIGNS, SHIPPING, "EUR")

    def test_the_currency_comes_from_the_environment(self, ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CURRENCY", "SEK")

        assert load_pricing_config().currency == "SEK"

    def test_a_warm_container_reuses_the_values_it_read(self, ssm: Any) -> None:
        # GIVEN a first load, then a price change in SSM
        load_pricing_config()
        catalog = {"items": [{"sku": "SKU-TEA-001", "name": "Green tea", "unit_price": 1}]}
        ssm.put_parameter(Name="/orders/test/catalog", Value=json.dumps(catalog), Overwrite=True)

        # WHEN loaded again within max_age / THEN the cached price answers, without a read
        assert load_pricing_config().catalog["SKU-TEA-001"].unit_price == 1250

        # AND a new container (an empty cache) sees the new price
        parameters.clear_caches()
        assert load_pricing_config().catalog["SKU-TEA-001"].unit_price == 1

    def test_a_malformed_parameter_is_named(self, ssm: Any) -> None:
        # GIVEN a shipping parameter that is not JSON
        ssm.put_parameter(Name="/orders/test/shipping", Value="{not json", Overwrite=True)

        # WHEN loaded / THEN the error names the SSM parameter
        with pytest.raises(PricingConfigError, match="/orders/test/shipping") as caught:
            load_pricing_config()

        assert caught.value.part == "shipping"

    def test_an_invalid_document_is_named_with_its_parameter(self, ssm: Any) -> None:
        ssm.put_parameter(Name="/orders/test/catalog", Value=json.dumps({"items": "none"}), Overwrite=True)

        with pytest.raises(PricingConfigError, match="/orders/test/catalog") as caught:
            load_pricing_config()

        assert caught.value.parameter == "/orders/test/catalog"

    def test_a_missing_parameter_is_named(self, ssm: Any) -> None:
        ssm.delete_parameter(Name="/orders/test/campaigns")

        with pytest.raises(PricingConfigError, match="/orders/test/campaigns"):
            load_pricing_config()

    def test_a_missing_environment_variable_is_named(self, ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("CATALOG_PARAMETER")

        with pytest.raises(PricingConfigError, match="CATALOG_PARAMETER"):
            load_pricing_config()
