"""`python -m ops --stack NAME` on a replicated stack (docs/failover.md): a primary has its event logs as
global tables under other logical ids (`OrdersEventLogReplicas`), a standby has no log resource at all (its
replicas' names are derived), so a log is found by the stack's output that names it (`OrdersEventLogTable`),
in all three modes. And the failover's view of a region reads the stack once (its parameters and outputs
come with `aws_target`'s one DescribeStacks)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from eventcore import DynamoDBEventStore
from ops.cli import main
from ops.failover import QUEUE_RESOURCES, region_end
from ops.target import aws_target
from tests.ops.test_stack_target import log_table, registry, view_table
from tests.support.aws import create_table
from tests.support.read_side import commits_for, lifecycle

REGION = "eu-west-1"


def view_stack(name: str, log: dict[str, Any] | None, output: Any) -> dict[str, Any]:
    """OrdersView's tables and registry; the orders log as `log` (a resource of its own, or None: made
    outside the stack), named by the output `OrdersEventLogTable` when `output` is given."""
    resources: dict[str, Any] = {
        "OrdersView": view_table(),
        "OrdersViewGreen": view_table(),
        "OrdersViewGenerations": registry("OrdersViewGenerations", name),
    }
    if log is not None:
        resources.update(log)
    template: dict[str, Any] = {
        "Parameters": {"ViewGenerationsCacheSeconds": {"Type": "Number", "Default": 1}},
        "Resources": resources,
    }
    if output is not None:
        template["Outputs"] = {"OrdersEventLogTable": {"Value": output}}
    return template


def create(name: str, template: dict[str, Any]) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    }


def standby_log(name: str) -> str:
    """The standby's replica of the orders log: not a resource of its stack (the primary created it)."""
    return create_table(boto3.client("dynamodb"), "OrdersEventLog", f"{name}-orders-event-log-0f8e4c1a")


def on_stack(capsys: pytest.CaptureFixture[str], stack: str, *arguments: str) -> tuple[int, Any, str]:
    capsys.readouterr()
    status = main(["--stack", stack, "--region", REGION, *arguments])
    captured = capsys.readouterr()
    out = captured.out
    return status, json.loads(out) if out.startswith(("{", "[")) else out, captured.err


@pytest.mark.parametrize("mode", ["none", "primary", "standby"])
def test_a_view_is_rebuilt_from_its_log_in_every_replication_mode(aws, capsys, mode):
    # GIVEN a stack of the mode: its log a resource of its own (none), a global table under another logical
    # id (primary), or no resource at all (standby); the log named by the stack's output
    name = f"orders-rebuild-{mode}"
    if mode == "none":
        resources = create(name, view_stack(name, {"OrdersEventLog": log_table()}, {"Ref": "OrdersEventLog"}))
        log = resources["OrdersEventLog"]
    elif mode == "primary":
        template = view_stack(
            name, {"OrdersEventLogReplicas": log_table()}, {"Ref": "OrdersEventLogReplicas"}
        )
        log = create(name, template)["OrdersEventLogReplicas"]
    else:
        log = standby_log(name)
        create(name, view_stack(name, None, log))
    store = DynamoDBEventStore(log, boto3.client("dynamodb"))
    for commit in commits_for(f"o-{mode}", lifecycle(f"o-{mode}", steps=2)):
        store.append(commit)
    # WHEN the operator rebuilds OrdersView by the stack's name
    status, built, _ = on_stack(capsys, name, "rebuild", "OrdersView", "--settle", "0", "--json")
    # THEN the new generation is built from that log
    assert (status, built["ready"], built["backfill"]["rows"]) == (0, True, 1)


def test_a_log_neither_a_resource_nor_an_output_is_a_clear_configuration_error(aws, capsys):
    name = "orders-rebuild-nolog"
    create(name, view_stack(name, None, None))
    status, _, err = on_stack(capsys, name, "rebuild", "OrdersView", "--settle", "0")
    assert status == 2
    assert "OrdersEventLog is neither a resource of stack orders-rebuild-nolog" in err
    assert "output OrdersEventLogTable" in err


def test_the_failover_reads_a_region_s_stack_once(aws):
    # GIVEN a replicated region's stack: its queues, its outputs, its pair's other region as a parameter
    name = "orders-pair"
    queues = {
        logical: {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-{logical}"}}
        for logical in QUEUE_RESOURCES.values()
    }
    outputs = {
        "ActiveRegionTable": f"{name}-active-region-0f8e4c1a",
        "OrdersEventLogTable": f"{name}-orders-event-log-0f8e4c1a",
        "ApiUrl": "https://api.example.invalid",
    }
    template = {
        "Parameters": {"ReplicaRegion": {"Type": "String", "Default": "eu-central-1"}},
        "Resources": queues,
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    # WHEN the operator's target is read (one DescribeStacks: parameters and outputs together)
    target = aws_target(name, REGION)
    assert target.outputs == outputs
    target._clients["cloudformation"] = NoMoreCalls()
    # THEN the failover's view of the region needs no other read of the stack
    end = region_end(target)
    assert (end.orders_log, end.active_region_table, end.replica_region) == (
        outputs["OrdersEventLogTable"],
        outputs["ActiveRegionTable"],
        "eu-central-1",
    )
    assert set(end.queue_urls) == set(QUEUE_RESOURCES)


class NoMoreCalls:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"CloudFormation called again: {name}")


def test_an_orders_story_is_traced_in_a_standby_whose_log_is_only_named_by_its_output(aws, capsys):
    # GIVEN a standby: its processed template has the one-region log under a condition that does not hold,
    # and its output names the replica
    name = "orders-trace-standby"
    log = standby_log(name)
    template = {
        "Conditions": {"SingleRegion": {"Fn::Equals": ["standby", "none"]}},
        "Resources": {
            "OrdersEventLog": {**log_table(), "Condition": "SingleRegion"},
            "Anything": {"Type": "AWS::SQS::Queue"},
        },
        "Outputs": {"OrdersEventLogTable": {"Value": log}},
    }
    create(name, template)
    store = DynamoDBEventStore(log, boto3.client("dynamodb"))
    for commit in commits_for("o-traced", lifecycle("o-traced", steps=2)):
        store.append(commit)
    # WHEN the operator traces the order by the stack's name
    status, story, _ = on_stack(capsys, name, "trace", "o-traced", "--no-logs", "--json")
    # THEN its story comes from the replica
    assert status == 0
    assert [event["event_type"] for event in story["events"]] == ["OrderCreated", "OrderConfirmed"]
    assert {event["log"] for event in story["events"]} == {"OrdersEventLog"}
