"""`python -m ops --stack NAME`: a deployed stack found by name (its resources and processed template from
CloudFormation), here a small stack in moto: a FIFO command queue with its DLQ and two contexts' event
logs; a read model's generations. Fast, no local cloud: what differs from the local target is only how
resources (and the stack's parameters) are found."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from microsystem import DynamoDBEventStore
from microsystem.messages import CommandMessage, deduplication_id
from microsystem.store import Commit
from ops.cli import main
from tests.support.aws import resource
from tests.support.read_side import commits_for, lifecycle

if TYPE_CHECKING:
    from microsystem.events import RecordedEvent

STACK = "orders-ops-test"


def log_table() -> dict[str, Any]:
    properties = resource("OrdersEventLog")["Properties"]
    return {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
        },
    }


TEMPLATE = {
    "Resources": {
        "OrdersEventLog": log_table(),
        "PaymentsEventLog": log_table(),
        "OrderCommandsQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": f"{STACK}-order-commands.fifo",
                "FifoQueue": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["OrderCommandsDLQ", "Arn"]},
                    "maxReceiveCount": 3,
                },
            },
        },
        "OrderCommandsDLQ": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": f"{STACK}-order-commands-dlq.fifo", "FifoQueue": True},
        },
    }
}


@pytest.fixture
def stack(aws: None) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(TEMPLATE))
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, Any]:
    capsys.readouterr()
    status = main(["--stack", STACK, "--region", "eu-west-1", "--json", *arguments])
    out = capsys.readouterr().out
    return status, json.loads(out) if out.strip() else None


def command(order_id: str, number: int) -> CommandMessage:
    return CommandMessage(
        command_type="CancelOrder",
        command_id=f"CancelOrder:test:{order_id}:{number}",
        payload={"order_id": order_id, "number": number},
        correlation_id=f"request-{number}",
    )


class TestRedriveOnAStack:
    def test_parked_commands_go_back_in_group_order_with_their_command_ids(self, stack, capsys):
        # GIVEN two orders' commands parked, one of them not a command message at all
        sqs = boto3.client("sqs")
        dlq, source = stack["OrderCommandsDLQ"], stack["OrderCommandsQueue"]
        first, second = command("order-a", 1), command("order-a", 2)
        other = command("order-b", 1)
        for message, group in ((first, "order-a"), (second, "order-a"), (other, "order-b")):
            sqs.send_message(QueueUrl=dlq, **message.sqs_entry(group_id=group))
        sqs.send_message(
            QueueUrl=dlq, MessageBody="{not json", MessageGroupId="order-c", MessageDeduplicationId="garbage"
        )

        # WHEN the stack's DLQs are listed and this one redriven
        status, listed = run(capsys, "dlq", "list", "--check")
        redriven_status, report = run(capsys, "dlq", "redrive", "OrderCommandsDLQ")

        # THEN the list finds the DLQ by the stack's template and says it holds messages
        assert status == 1
        assert [(q["logical_id"], q["depth"]) for q in listed] == [("OrderCommandsDLQ", 4)]
        # AND the commands are back on the source queue, each group in order, deduplicated by command id
        assert redriven_status == 1, "the unreadable message stays parked, and the command says so"
        assert report["moved"] == 3
        assert len(report["left"]) == 1
        assert "not a command message" in report["left"][0][1]
        received = sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )["Messages"]
        moved = [
            (m["Attributes"]["MessageGroupId"], json.loads(m["Body"])["command_id"], m["Attributes"])
            for m in received
        ]
        assert [(group, cid) for group, cid, _ in moved if group == "order-a"] == [
            ("order-a", first.command_id),
            ("order-a", second.command_id),
        ]
        assert {cid for _, cid, _ in moved} == {first.command_id, second.command_id, other.command_id}
        for _, command_id, attributes in moved:
            assert attributes["MessageDeduplicationId"] == deduplication_id(command_id)
        remaining = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        assert remaining["Attributes"]["ApproximateNumberOfMessages"] == "1"

    def test_an_unknown_stack_is_a_configuration_error(self, aws, capsys):
        status = main(["--stack", "no-such-stack", "--region", "eu-west-1", "dlq", "list"])
        assert status == 2
        assert "cannot read stack no-such-stack" in capsys.readouterr().err


def recorded(event_id: str, event_type: str, at: str, data: dict[str, Any]) -> RecordedEvent:
    from microsystem.events import RecordedEvent

    return RecordedEvent(
        event_id=event_id, event_type=event_type, schema_version=1, data=json.dumps(data), recorded_at=at
    )


class TestTraceOnAStack:
    def test_the_story_joins_both_logs_by_order_id_and_correlation_id_in_time_order(self, stack, capsys):
        # GIVEN an order's commits in the orders log and a payment's in the payments log
        dynamodb = boto3.client("dynamodb")
        orders = DynamoDBEventStore(stack["OrdersEventLog"], dynamodb)
        payments = DynamoDBEventStore(stack["PaymentsEventLog"], dynamodb)
        order = {"order_id": "o-1"}

        def commit(
            stream: str,
            version: int,
            *events: RecordedEvent,
            cause: str | None = None,
            correlation: str = "req-1",
        ) -> Commit:
            return Commit(
                stream_id=stream,
                version=version,
                events=events,
                command_id=f"cmd-{stream}-{version}",
                fingerprint="f",
                committed_at=events[0].recorded_at,
                correlation_id=correlation,
                causation_id=cause,
            )

        orders.append(
            commit("Order-o-1", 1, recorded("e1", "OrderCreated", "2026-12-01T10:00:00.000000Z", order))
        )
        payments.append(
            commit(
                "Payment-p-1",
                1,
                recorded("e2", "PaymentRequested", "2026-12-01T10:00:00.100000Z", order),
                cause="e1",
            )
        )
        # a commit that names no order id but shares the correlation id (found by the second condition)
        payments.append(
            commit(
                "Payment-p-1",
                2,
                recorded("e3", "PaymentAuthorized", "2026-12-01T10:00:00.200000Z", {}),
                cause="e1",
            )
        )
        orders.append(
            commit(
                "Order-o-1",
                2,
                recorded("e4", "OrderConfirmed", "2026-12-01T10:00:00.300000Z", order),
                cause="e3",
            )
        )
        orders.append(
            commit(
                "Order-o-2",
                1,
                recorded("e9", "OrderCreated", "2026-12-01T09:00:00.000000Z", {"order_id": "o-2"}),
                correlation="req-2",
            )
        )

        # WHEN the order is traced on the stack
        status, story = run(capsys, "trace", "o-1", "--no-logs")

        # THEN
        assert status == 0
        assert [(e["event_id"], e["log"]) for e in story["events"]] == [
            ("e1", "OrdersEventLog"),
            ("e2", "PaymentsEventLog"),
            ("e3", "PaymentsEventLog"),
            ("e4", "OrdersEventLog"),
        ]
        assert story["correlation_ids"] == ["req-1"]


def view_table() -> dict[str, Any]:
    properties = resource("OrdersView")["Properties"]
    return {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            **{k: properties[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")},
        },
    }


VIEW_STACK = "orders-rebuild-test"
VIEW_TEMPLATE = {
    "Parameters": {"ViewGenerationsCacheSeconds": {"Type": "Number", "Default": 5}},
    "Resources": {
        "OrdersEventLog": log_table(),
        "OrdersView": view_table(),
        "OrdersViewGreen": view_table(),
        "OrdersViewGenerations": {
            **{k: v for k, v in resource("OrdersViewGenerations").items() if k != "Properties"},
            "Properties": {
                **resource("OrdersViewGenerations")["Properties"],
                "Name": f"/{VIEW_STACK}/views/OrdersView/generations",
            },
        },
    },
}


class TestRebuildOnAStack:
    def test_a_generation_is_built_switched_and_dropped_on_a_stack_found_by_name(self, aws, capsys):
        # GIVEN a stack with the view's two tables, its registry (declared with its ReadModel metadata) and
        # the functions' cache age as a parameter; an order in its log
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(
            StackName=VIEW_STACK,
            TemplateBody=json.dumps(VIEW_TEMPLATE),
            Parameters=[{"ParameterKey": "ViewGenerationsCacheSeconds", "ParameterValue": "1"}],
        )
        resources = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cloudformation.list_stack_resources(StackName=VIEW_STACK)["StackResourceSummaries"]
        }
        log = DynamoDBEventStore(resources["OrdersEventLog"], boto3.client("dynamodb"))
        for commit in commits_for("o-1", lifecycle("o-1", steps=2)):
            log.append(commit)

        def on_stack(*arguments: str) -> tuple[int, Any]:
            capsys.readouterr()
            status = main(["--stack", VIEW_STACK, "--region", "eu-west-1", *arguments])
            out = capsys.readouterr().out
            return status, json.loads(out) if out.startswith(("{", "[")) else out

        # WHEN the operator rebuilds, switches and drops by the stack's name
        assert on_stack("rebuild", "status", "--json")[1]["OrdersView"][1]["state"] == "free"
        status, built = on_stack("rebuild", "OrdersView", "--settle", "0", "--json")
        assert (status, built["ready"], built["backfill"]["rows"]) == (0, True, 1)
        status, switched = on_stack("rebuild", "switch", "OrdersView")
        # THEN the switch reports the stack's cache age as its propagation time
        assert status == 0
        assert "green is active, blue standby (still fed); every query reads green within 1 s" in switched
        status, dropped = on_stack("rebuild", "drop", "OrdersView", "--settle", "0", "--json")
        assert (status, dropped["generation"], dropped["rows_deleted"]) == (0, "blue", 0)
        states = {g["name"]: g["state"] for g in on_stack("rebuild", "status", "--json")[1]["OrdersView"]}
        assert states == {"blue": "free", "green": "active"}
        green = boto3.client("dynamodb").scan(TableName=resources["OrdersViewGreen"])["Items"]
        assert [item["order_id"]["S"] for item in green] == ["o-1"]
