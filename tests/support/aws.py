"""Test doubles of the deployed resources, built from template.yaml so each schema is written once."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS
from moto import mock_aws
from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "orders-microsystem-dev"


@functools.cache
def template() -> dict[str, Any]:
    return yaml_parse((ROOT / "template.yaml").read_text())


def resource(logical_id: str) -> dict[str, Any]:
    return template()["Resources"][logical_id]


def single_region(value: Any) -> Any:
    """What a stack in one region has where a replicated one names its global table instead (the last branch
    of each `Fn::If` of template.yaml's anchors, docs/failover.md)."""
    while isinstance(value, dict) and "Fn::If" in value:
        value = value["Fn::If"][2]
    return value


def create_table(client: Any, logical_id: str, table_name: str | None = None) -> str:
    """Create table `logical_id` of template.yaml in (moto) DynamoDB, with its keys, indexes and stream, as
    the template's defaults create it (not pre-warmed: PrewarmTables is "false")."""
    props = resource(logical_id)["Properties"]
    table_name = table_name or logical_id
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = indexes_as_created(props)
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    client.create_table(**request)
    return table_name


def indexes_as_created(props: dict[str, Any]) -> list[dict[str, Any]]:
    """A table's global secondary indexes as the template's defaults create them: without WarmThroughput
    (only with PrewarmTables, a condition a test's own table or template does not carry)."""
    return [
        {key: value for key, value in index.items() if key != "WarmThroughput"}
        for index in props.get("GlobalSecondaryIndexes", [])
    ]


def put_parameters(client: Any) -> dict[str, str]:
    """Put every AWS::SSM::Parameter of the template into (moto) SSM; return logical id -> name."""
    names = {}
    for logical_id, res in template()["Resources"].items():
        if res["Type"] != "AWS::SSM::Parameter":
            continue
        props = res["Properties"]
        name = props["Name"]["Fn::Sub"].replace("${AWS::StackName}", STACK_NAME)
        client.put_parameter(Name=name, Value=props["Value"], Type=props["Type"], Overwrite=True)
        names[logical_id] = name
    return names


def fake_account_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a function finds in its (fake) account: region, credentials, Powertools settings."""
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


def forget_parameter_values() -> None:
    """Powertools' cached parameter values dropped, as when they expire: the next read goes to SSM. Its
    providers stay (`parameters.clear_caches()` drops them, and each new one builds a boto3 session, which
    loads the service model again: 0.2 s for every test and every read after one)."""
    for provider in DEFAULT_PROVIDERS.values():
        provider.clear_cache()


def moto() -> contextlib.AbstractContextManager[Any]:
    """An empty moto account. boto3's default session outlives it (moto resets the session by default): a new
    session loads every service model again for each client, and the functions a test loads create a dozen
    (0.4 s a test in the hostile requests)."""
    return mock_aws(config={"core": {"reset_boto3_session": False}})


@contextlib.contextmanager
def moto_account() -> Iterator[pytest.MonkeyPatch]:
    """moto and the account's environment, for a fixture wider than one test (its own MonkeyPatch: the
    function-scoped one is undone after each test)."""
    with pytest.MonkeyPatch.context() as monkeypatch, moto():
        fake_account_environment(monkeypatch)
        yield monkeypatch


def put_pricing_parameters(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The template's default catalog, campaigns and shipping rates (every parameter) in (moto) SSM, named
    where the functions look; logical id -> name."""
    names = put_parameters(boto3.client("ssm"))
    monkeypatch.setenv("CATALOG_PARAMETER", names["CatalogParameter"])
    monkeypatch.setenv("CAMPAIGNS_PARAMETER", names["CampaignsParameter"])
    monkeypatch.setenv("SHIPPING_PARAMETER", names["ShippingParameter"])
    monkeypatch.setenv("CURRENCY", "EUR")
    return names


def create_personal_data_vault(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The template's personal data vault (table and KMS key) in moto, named where the functions look."""
    table = create_table(boto3.client("dynamodb"), "PersonalDataKeys", "personal-data-keys")
    key = boto3.client("kms").create_key(Description="personal data (tests)")["KeyMetadata"]["Arn"]
    monkeypatch.setenv("PERSONAL_DATA_KEYS_TABLE", table)
    monkeypatch.setenv("PERSONAL_DATA_KMS_KEY", key)
    return {"table": table, "key": key}


class SerialisedClient:
    """A boto3 client whose calls run one at a time. moto's conditional writes are not atomic across threads;
    DynamoDB's are, so concurrency tests serialise each request the way the real service would."""

    def __init__(self, client: Any, lock: threading.Lock | None = None) -> None:
        self._client = client
        self._lock = lock or threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call
