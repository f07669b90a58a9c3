"""Fixtures shared by every tier: a fake AWS account, moto, and the template's resources built in it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

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
from tests.support.scheduling import GroupScheduling, group_of

if TYPE_CHECKING:
    from collections.abc import Iterator


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs two pytest-xdist workers (`-n 2 --dist loadgroup`), each taking a group of tests
    whole, in the order collected (tests/support/scheduling.py): a file's tests stay on one worker, so its
    module fixtures (a local cloud among them) start once, and the end-to-end modules stay together on one,
    as they share one local cloud (tests/e2e/conftest.py).

    The longest groups go first, so that no long one is left for the end while the other worker idles: the
    end-to-end modules (about 40% of the suite), then every file with a slow test (the SAM CLI or a local
    cloud), then the rest as collected. A group keeps its tests' order; tests depend on no order of files.
    Without workers the order stays as collected."""
    if not hasattr(config, "workerinput"):
        return
    slow_groups = {group_of(item.nodeid) for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> int:
        group = group_of(item.nodeid)
        return 0 if group == "e2e" else 1 if group in slow_groups else 2

    items.sort(key=rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` by the groups above, which pytest-xdist 3.8 cannot read from the marks under
    pytest 9.2 (tests/support/scheduling.py)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    return GroupScheduling(config, log)


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
