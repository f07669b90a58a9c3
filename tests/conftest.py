"""Fixtures shared by every tier: a fake AWS account, moto, and the template's resources built in it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from hypothesis import settings
from moto import mock_aws

from tests.support.aws import create_table, put_parameters
from tests.support.lambdas import LambdaContext

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs two pytest-xdist workers (`-n 2 --dist loadgroup`): a file's tests stay on one worker,
    so its module fixtures (a local cloud among them) start once, and the end-to-end modules stay together
    on one, as they share one local cloud (tests/e2e/conftest.py)."""
    for item in items:
        path = item.path.relative_to(ROOT)
        group = "e2e" if path.parts[:2] == ("tests", "e2e") else path.as_posix()
        item.add_marker(pytest.mark.xdist_group(group))


# In CI the property tests explore the same examples every run (a red build is reproducible, and never a
# matter of luck), with no per-example deadline on a shared machine. Locally they keep exploring at random.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OrdersMicrosystemTests")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tests")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    parameters.clear_caches()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield


@pytest.fixture
def dynamodb(aws: None):
    return boto3.client("dynamodb")


@pytest.fixture
def orders_log(dynamodb) -> str:
    return create_table(dynamodb, "OrdersEventLog", "orders-event-log")


@pytest.fixture
def pricing_parameters(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The template's default catalog, campaigns and shipping rates, in (moto) SSM."""
    names = put_parameters(boto3.client("ssm"))
    monkeypatch.setenv("CATALOG_PARAMETER", names["CatalogParameter"])
    monkeypatch.setenv("CAMPAIGNS_PARAMETER", names["CampaignsParameter"])
    monkeypatch.setenv("SHIPPING_PARAMETER", names["ShippingParameter"])
    monkeypatch.setenv("CURRENCY", "EUR")
    return names


@pytest.fixture
def personal_data_keys(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The template's personal data vault (table and KMS key) in moto, named where the functions look."""
    table = create_table(boto3.client("dynamodb"), "PersonalDataKeys", "personal-data-keys")
    key = boto3.client("kms").create_key(Description="personal data (tests)")["KeyMetadata"]["Arn"]
    monkeypatch.setenv("PERSONAL_DATA_KEYS_TABLE", table)
    monkeypatch.setenv("PERSONAL_DATA_KMS_KEY", key)
    return {"table": table, "key": key}


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
