"""`python -m ops --stack NAME failover --to REGION --planned` as the operator types it, against a replicated
pair of stacks in moto (two regions, the same stack name): the refusals and the status a planned move has
(the move itself runs on two regions of the saga: tests/integration/saga/test_planned_move.py)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from eventcore.regions import ActiveRegionTable
from ops.cli import PROBLEMS, USAGE, main
from ops.failover import QUEUE_RESOURCES
from tests.support.aws import create_table

STACK = "orders-pair"
PRIMARY, STANDBY = "eu-west-1", "eu-central-1"
RECORD = f"{STACK}-active-region-0f8e4c1a"
NOTHING_LISTENS = "http://127.0.0.1:9"  # the discard port: refused at once, so the region is unreachable


def region_stack(region: str, other: str) -> None:
    """One region's stack of the pair: its queues, the outputs the failover reads, its API unreachable."""
    queues = {
        logical: {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{STACK}-{logical}"}}
        for logical in QUEUE_RESOURCES.values()
    }
    outputs = {
        "ActiveRegionTable": RECORD,
        "OrdersEventLogTable": f"{STACK}-orders-event-log-0f8e4c1a",
        "ApiUrl": NOTHING_LISTENS,
    }
    template = {
        "Parameters": {"ReplicaRegion": {"Type": "String", "Default": other}},
        "Resources": queues,
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation = boto3.client("cloudformation", region_name=region)
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))


@pytest.fixture
def pair(aws: None) -> ActiveRegionTable:
    """The pair, the primary active; the record as the standby's region reads it (its replica)."""
    region_stack(PRIMARY, STANDBY)
    region_stack(STANDBY, PRIMARY)
    dynamodb = boto3.client("dynamodb", region_name=STANDBY)
    record = ActiveRegionTable(create_table(dynamodb, "ActiveRegionRecord", RECORD), dynamodb)
    record.promote(PRIMARY, seen=record.read())
    return record


def failover(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["--stack", STACK, "failover", "--to", STANDBY, *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_planned_move_from_an_active_region_that_does_not_answer_is_refused(pair, capsys):
    # GIVEN the primary active, its API not answering
    # WHEN the operator asks for a planned move to the standby
    status, _, err = failover(capsys, "--planned", "--settle", "0", "--drain-seconds", "0")
    # THEN it is refused, naming the unplanned failover, and the record is untouched
    assert status == PROBLEMS
    assert f"region {PRIMARY} is active and does not answer" in err
    assert f"python -m ops failover --to {STANDBY}" in err
    assert (pair.read().region, pair.read().epoch) == (PRIMARY, 1)


def test_a_planned_move_to_the_active_region_is_refused(pair, capsys):
    pair.promote(STANDBY, seen=pair.read())
    status, _, err = failover(capsys, "--planned")
    assert status == PROBLEMS
    assert f"region {STANDBY} is already the active region" in err


def test_the_status_names_a_planned_move_under_way_and_how_to_finish_it(pair, capsys):
    pair.demote(STANDBY, seen=pair.read(), draining=True)
    status, out, _ = failover(capsys, "--status")
    assert status == 0
    assert f"a planned move to {STANDBY} is under way, {PRIMARY} draining its command queues" in out
    assert f"failover --to {STANDBY} --planned" in out


@pytest.mark.parametrize("option", [["--settle", "0"], ["--drain-seconds", "5"]])
def test_a_planned_move_s_options_without_planned_are_a_usage_error(pair, capsys, option: Any):
    status, _, err = failover(capsys, *option)
    assert status == USAGE
    assert "add --planned" in err
