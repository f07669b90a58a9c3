"""The template replicated on request (docs/failover.md): with `Replication` primary the facts that must
survive a region (the four event logs, the personal-data keys, the active-region record) are DynamoDB global
tables with multi-Region strong consistency, each the same table as the one a stack in one region has; the
derived data (views, analytics) stays regional. Nothing on a replicated table uses what MRSC does not
support: no TTL, no local secondary index, no transaction."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import ROOT, template

REPLICATED = {
    "OrdersEventLogReplicas": "OrdersEventLog",
    "PaymentsEventLogReplicas": "PaymentsEventLog",
    "InventoryEventLogReplicas": "InventoryEventLog",
    "ShippingEventLogReplicas": "ShippingEventLog",
    "PersonalDataKeysReplicas": "PersonalDataKeys",
    "ActiveRegionRecord": None,  # only a replicated stack needs to know which region is active
}
REGIONAL = {"OrdersView", "OrdersViewGreen", "ShipmentsView", "ShipmentsViewGreen", "SalesAnalytics"}


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def test_the_facts_that_must_survive_are_global_tables_with_strong_consistency():
    global_tables = resources("AWS::DynamoDB::GlobalTable")
    assert set(global_tables) == set(REPLICATED)
    for name, table in global_tables.items():
        properties = table["Properties"]
        assert table["Condition"] == "ReplicatesTables", name
        assert properties["MultiRegionConsistency"] == "STRONG", name
        assert table["DeletionPolicy"] == "Retain", name


def test_a_replicated_table_is_the_table_a_stack_in_one_region_has():
    tables = resources("AWS::DynamoDB::Table")
    for replicated, regional in REPLICATED.items():
        if regional is None:
            continue
        mine, theirs = template()["Resources"][replicated]["Properties"], tables[regional]["Properties"]
        assert tables[regional]["Condition"] == "SingleRegion", regional
        assert mine["KeySchema"] == theirs["KeySchema"], replicated
        assert mine["AttributeDefinitions"] == theirs["AttributeDefinitions"], replicated
        assert unwarmed(mine.get("GlobalSecondaryIndexes", [])) == unwarmed(
            theirs.get("GlobalSecondaryIndexes", [])
        ), replicated
        if "StreamSpecification" in theirs:
            assert mine["StreamSpecification"] == theirs["StreamSpecification"], replicated


def unwarmed(indexes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in index.items() if key != "WarmThroughput"} for index in indexes]


def test_a_replicated_log_is_pre_warmed_as_its_regional_log_only_with_prewarm_tables():
    # AWS::DynamoDB::GlobalTable takes WarmThroughput, on the table and on a global secondary index
    # (the CloudFormation reference; docs/failover.md, "The AWS facts")
    tables = resources("AWS::DynamoDB::Table")
    for replicated, regional in REPLICATED.items():
        mine, theirs = template()["Resources"][replicated]["Properties"], None
        if regional is not None:
            theirs = tables[regional]["Properties"]
        if theirs is None or "WarmThroughput" not in theirs:
            assert "WarmThroughput" not in mine, f"{replicated}: its regional table is not pre-warmed either"
            continue
        assert mine["WarmThroughput"] == theirs["WarmThroughput"], replicated
        assert mine["WarmThroughput"]["Fn::If"][0] == "PrewarmTables"
        assert mine["WarmThroughput"]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
        warmed = [index.get("WarmThroughput") for index in mine["GlobalSecondaryIndexes"]]
        assert warmed == [index.get("WarmThroughput") for index in theirs["GlobalSecondaryIndexes"]], (
            replicated
        )


def test_derived_data_stays_regional():
    tables = resources("AWS::DynamoDB::Table")
    for name in REGIONAL:
        assert "Condition" not in tables[name], f"{name} is derived: every region keeps its own"
    assert {name for name, t in tables.items() if "Condition" not in t} == REGIONAL


def test_nothing_on_a_replicated_table_uses_ttl_or_a_local_secondary_index():
    replicated_shapes = [
        *(r["Properties"] for r in resources("AWS::DynamoDB::GlobalTable").values()),
        *(
            r["Properties"]
            for r in resources("AWS::DynamoDB::Table").values()
            if r.get("Condition") == "SingleRegion"  # the same tables, in a stack of one region
        ),
    ]
    assert len(replicated_shapes) == 11
    for properties in replicated_shapes:
        assert "TimeToLiveSpecification" not in properties
        assert "LocalSecondaryIndexes" not in properties
        for replica in properties.get("Replicas", {}).get("Fn::If", [None, [], []])[1:]:
            for settings in replica:
                assert "TimeToLiveSpecification" not in settings
    # the one table with a TTL is regional
    ttl = {
        n
        for n, r in resources("AWS::DynamoDB::Table").items()
        if "TimeToLiveSpecification" in r["Properties"]
    }
    assert ttl == {"SalesAnalytics"}


def test_a_replicated_table_has_two_replicas_and_a_witness_or_three_replicas():
    shared = template()["Metadata"]["Shared"]["ReplicatedTable"]
    with_witness, replicas_witnessed, three_replicas = shared["Replicas"]["Fn::If"]
    assert with_witness == "HasWitness"
    assert [r["Region"] for r in replicas_witnessed] == [{"Ref": "AWS::Region"}, {"Ref": "ReplicaRegion"}]
    assert [r["Region"] for r in three_replicas] == [
        {"Ref": "AWS::Region"},
        {"Ref": "ReplicaRegion"},
        {"Ref": "ThirdReplicaRegion"},
    ]
    assert shared["GlobalTableWitnesses"] == {
        "Fn::If": ["HasWitness", [{"Region": {"Ref": "WitnessRegion"}}], {"Ref": "AWS::NoValue"}]
    }


# -- transactions: which code issues them, on which table ---------------------------------------------------

DEPLOYED = [ROOT / "layers", ROOT / "functions"]


def python_files() -> list[Path]:
    return [path for folder in DEPLOYED for path in folder.rglob("*.py")]


def calls(path: Path, method: str) -> list[int]:
    tree = ast.parse(path.read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
    ]


def test_only_the_counters_issue_transactions_and_only_on_the_regional_analytics_table():
    # GIVEN the deployed code
    issuing = {str(path.relative_to(ROOT)) for path in python_files() if calls(path, "transact_write_items")}
    # THEN one place issues a transaction: the idempotent counters (no log is written in one: a commit is
    # one conditional PutItem, and inventory's stock buckets move units as one fact on the giving bucket,
    # claimed by the receiver)
    assert issuing == {"layers/eventcore/eventcore/read/counters.py"}
    assert not [path for path in python_files() if calls(path, "append_all")]
    # AND the counters count in ANALYTICS_TABLE, which the template gives only SalesAnalytics (regional)
    counted = [
        str(path.relative_to(ROOT)) for path in python_files() if "IdempotentCounters(" in path.read_text()
    ]
    assert counted == ["layers/orders/orders/bootstrap.py"]
    given = {
        function: resource["Properties"]["Environment"]["Variables"]["ANALYTICS_TABLE"]
        for function, resource in template()["Resources"].items()
        if "ANALYTICS_TABLE" in resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    }
    assert given == {"SalesAnalyticsProjectorFunction": {"Ref": "SalesAnalytics"}}


# -- every mode refers only to what it creates ---------------------------------------------------------------

MODES = {
    "none": {},
    "primary": {"Replication": "primary", "ReplicaRegion": "eu-central-1", "WitnessRegion": "eu-west-3"},
    "standby": {
        "Replication": "standby",
        "ReplicaRegion": "eu-west-1",
        "PrimaryStackId": "0f8e4c1a-3b2d-4e6f-9a7b-1c2d3e4f5a6b",
        "PersonalDataPrimaryKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/mrk-1",
        "ReplicatedStreamArns": "a,b,c,d",
    },
}
PSEUDO = {"AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::AccountId", "AWS::Partition"}
PSEUDO |= {"AWS::URLSuffix", "AWS::NoValue"}


def holds(condition: Any, values: dict[str, str], conditions: dict[str, Any]) -> bool:
    if "Condition" in condition:
        return holds(conditions[condition["Condition"]], values, conditions)
    if "Fn::Equals" in condition:
        left, right = (
            values[side["Ref"]] if isinstance(side, dict) else str(side) for side in condition["Fn::Equals"]
        )
        return left == right
    if "Fn::Not" in condition:
        return not holds(condition["Fn::Not"][0], values, conditions)
    if "Fn::Or" in condition:
        return any(holds(part, values, conditions) for part in condition["Fn::Or"])
    if "Fn::And" in condition:
        return all(holds(part, values, conditions) for part in condition["Fn::And"])
    raise AssertionError(f"not a condition: {condition!r}")


def targets(value: Any, truth: dict[str, bool]) -> set[str]:
    """What a value refers to, each `Fn::If` taken as the mode decides it."""
    if isinstance(value, list):
        return set().union(*(targets(item, truth) for item in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Fn::If" in value:
        condition, when, otherwise = value["Fn::If"]
        return targets(when if truth[condition] else otherwise, truth)
    found: set[str] = set()
    if isinstance(value.get("Ref"), str):
        found.add(value["Ref"])
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        found.add(target.split(".")[0] if isinstance(target, str) else target[0])
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        found |= {n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
        found |= targets(variables, truth)
    return found | set().union(
        *(targets(item, truth) for key, item in value.items() if key not in ("Ref", "Fn::GetAtt", "Fn::Sub"))
    )


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_refers_only_to_resources_it_creates(mode):
    sam = template()
    values = {name: str(spec.get("Default", "")) for name, spec in sam["Parameters"].items()}
    values |= MODES[mode]
    conditions = sam["Conditions"]
    truth = {name: holds(condition, values, conditions) for name, condition in conditions.items()}
    created = {n for n, r in sam["Resources"].items() if truth.get(r.get("Condition", ""), True)}
    known = created | set(sam["Parameters"]) | PSEUDO
    for section in ("Resources", "Outputs"):
        for name, entry in sam[section].items():
            if not truth.get(entry.get("Condition", ""), True):
                continue
            missing = targets({k: v for k, v in entry.items() if k != "Condition"}, truth) - known
            assert not missing, f"{mode}: {name} refers to {sorted(missing)}, which this mode does not create"
