"""The template replicated on request (docs/failover.md): with `Replication` primary the facts that must
survive a region (the four event logs, the personal-data keys, the active-region record) are DynamoDB global
tables with multi-Region strong consistency, each the same table as the one a stack in one region has; the
derived data (views, analytics) stays regional. Nothing on a replicated table uses what MRSC does not
support: no TTL, no local secondary index, no transaction."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

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
        indexes = [
            {key: value for key, value in index.items() if key != "WarmThroughput"}
            for index in theirs.get("GlobalSecondaryIndexes", [])
        ]
        assert mine.get("GlobalSecondaryIndexes", []) == indexes, replicated
        if "StreamSpecification" in theirs:
            assert mine["StreamSpecification"] == theirs["StreamSpecification"], replicated


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
