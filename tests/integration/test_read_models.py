"""Every read model declared in template.yaml in generations is complete: its registry (an SSM parameter with
`Metadata.ReadModel`) names tables of one schema and a log, starts with one active generation whose
projection imports, and every function that reads the registry is given all the view's tables, with a role
that reaches them and the registry, and the log the view is declared to be replayed from. What a new view must
declare, checked once."""

from __future__ import annotations

from typing import Any

import pytest

from eventcore.read.generations.lifecycle import Generations
from eventcore.read.projector import load_projection
from ops.template import target_of
from tests.support.aws import single_region, template

SCHEMA = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


def read_models() -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::SSM::Parameter" and "ReadModel" in resource.get("Metadata", {})
    }


def functions_reading(registry: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource["Properties"].get("Environment", {}).get("Variables", {}).get("VIEW_GENERATIONS")
        == {"Ref": registry}
    }


def statements(role: str) -> list[dict[str, Any]]:
    policies = template()["Resources"][role]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_orders_view_is_kept_in_generations_fed_by_its_projector_and_read_by_its_queries():
    assert "OrdersViewGenerations" in read_models()
    assert {"OrderProjectorFunction", "OrdersQueryApiFunction", "OrdersViewRebuilderFunction"} <= set(
        functions_reading("OrdersViewGenerations")
    )


def test_shipments_view_is_kept_in_generations_fed_by_its_projector_and_read_by_the_shipping_api():
    assert read_models()["ShipmentsViewGenerations"]["Metadata"]["ReadModel"] == {
        "View": "ShipmentsView",
        "Log": "ShippingEventLog",
        "Archived": "shipping",
        "Generations": {"blue": "ShipmentsView", "green": "ShipmentsViewGreen"},
    }
    assert {"ShipmentProjectorFunction", "ShippingApiFunction", "ShipmentsViewRebuilderFunction"} <= set(
        functions_reading("ShipmentsViewGenerations")
    )


def test_no_function_is_given_a_single_view_table_any_more():
    for name, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            assert "VIEW_TABLE" not in variables, name


@pytest.mark.parametrize("registry", sorted(read_models()))
def test_a_read_models_generations_are_declared_whole(registry):
    resources = template()["Resources"]
    declared = read_models()[registry]["Metadata"]["ReadModel"]
    tables = declared["Generations"]
    # tables of one schema, so that a switch changes nothing a query relies on
    assert set(tables) == {"blue", "green"}
    schemas = [{key: resources[t]["Properties"].get(key) for key in SCHEMA} for t in tables.values()]
    assert all(resources[t]["Type"] == "AWS::DynamoDB::Table" for t in tables.values())
    assert schemas[0] == schemas[1]
    # ... declared alike whole: encryption, backups, deletion policies
    blue, green = (resources[t] for t in tables.values())
    assert blue == green
    assert resources[declared["Log"]]["Type"] == "AWS::DynamoDB::Table"
    # one active generation to start with, whose projection imports
    generations = Generations.parse(read_models()[registry]["Properties"]["Value"])
    assert generations.active.name in tables
    projection = load_projection(generations.active.projection)
    # every function reading the registry gets every table, and a role that reaches them and the registry
    readers = functions_reading(registry)
    assert readers, f"no function reads {registry}"
    for name, function in readers.items():
        variables = function["Properties"]["Environment"]["Variables"]
        listed = variables["VIEW_TABLES"]["Fn::Sub"]
        assert all(f'"{g}": "${{{t}}}"' in listed for g, t in tables.items()), name
        assert variables["VIEW_GENERATIONS_MAX_AGE"] == {"Ref": "ViewGenerationsCacheSeconds"}, name
        # the log it fills gaps from, replays, or reads for consistent answers is the view's own
        # (in a stack of one region: a replicated stack names its global table instead, docs/failover.md)
        assert single_region(variables["EVENT_LOG_TABLE"]) == {"Ref": declared["Log"]}, name
        if "VIEW_NAME" in variables:  # a rebuild function: the view it names, a projection of the view's kind
            assert variables["VIEW_NAME"] == declared["View"], name
            load_projection(variables["VIEW_PROJECTION"], like=projection)
        granted = statements(str(target_of(function["Properties"]["Role"])))
        reaches = {
            target_of(resource)
            for statement in granted
            if any(str(action).startswith("dynamodb:") for action in as_list(statement["Action"]))
            for resource in as_list(statement["Resource"])
        }
        for table in tables.values():
            assert table in reaches, f"{name} cannot reach {table}"
        registry_grants = [
            s
            for s in granted
            if "ssm:GetParameter" in as_list(s["Action"]) and f"${{{registry}}}" in str(s["Resource"])
        ]
        assert registry_grants, f"{name} cannot read {registry}"
