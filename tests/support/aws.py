"""Test doubles of the deployed resources, built from template.yaml so each schema is written once."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "orders-microsystem-dev"


@functools.cache
def template() -> dict[str, Any]:
    return yaml_parse((ROOT / "template.yaml").read_text())


def resource(logical_id: str) -> dict[str, Any]:
    return template()["Resources"][logical_id]


def create_table(client: Any, logical_id: str, table_name: str | None = None) -> str:
    """Create table `logical_id` of template.yaml in (moto) DynamoDB, with its keys, indexes and stream."""
    props = resource(logical_id)["Properties"]
    table_name = table_name or logical_id
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    client.create_table(**request)
    return table_name


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
