"""Fixtures shared by every tier: a fake AWS account, moto, and the template's resources built in it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from hypothesis import settings
from moto.kms import models as moto_kms

from tests.support.aws import (
    create_personal_data_vault,
    create_table,
    fake_account_environment,
    forget_parameter_values,
    moto,
    put_pricing_parameters,
)
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
    fake_account_environment(monkeypatch)
    forget_parameter_values()


@pytest.fixture(scope="session", autouse=True)
def one_rsa_key_for_moto_symmetric_keys() -> Iterator[None]:
    """moto gives every KMS key it creates an RSA-2048 private key, symmetric ones too (moto/kms/models.py,
    `Key.__init__`): 44 ms of key generation per test that makes the personal data vault. A symmetric key
    never uses it (no Sign, Verify or GetPublicKey), so those share one; other key specs get their own."""
    generate = moto_kms.generate_private_key
    shared = generate("SYMMETRIC_DEFAULT")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            moto_kms,
            "generate_private_key",
            lambda key_spec: shared if key_spec == "SYMMETRIC_DEFAULT" else generate(key_spec),
        )
        yield


@pytest.fixture
def aws() -> Iterator[None]:
    with moto():
        yield


@pytest.fixture
def dynamodb(aws: None):
    return boto3.client("dynamodb")


@pytest.fixture
def orders_log(dynamodb) -> str:
    return create_table(dynamodb, "OrdersEventLog", "orders-event-log")


@pytest.fixture
def pricing_parameters(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return put_pricing_parameters(monkeypatch)


@pytest.fixture
def personal_data_keys(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return create_personal_data_vault(monkeypatch)


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
