"""`python -m ops --stack NAME`: a deployed stack found by name (its resources and processed template from
CloudFormation), here a small stack in moto: a FIFO command queue with its DLQ and two contexts' event
logs; a read model's generations (OrdersView; ShipmentsView, read by the real shipping API). Fast, no local
cloud: what differs from the local target is only how resources (and the stack's parameters) are found."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from eventcore import DeciderRunner, DynamoDBEventStore
from eventcore.messaging.inbound import CommandMessage, deduplication_id
from eventcore.write.command_ids import command_fingerprint
from eventcore.write.store import Commit
from ops.cli import main
from shipping import shipment_decider, shipment_id_for
from shipping.commands import CancelShipment, MarkReady, PlanShipment, ShipmentLine
from tests.support.aws import indexes_as_created, resource
from tests.support.lambdas import LambdaContext, http_event, load_function
from tests.support.read_side import T0, commits_for, lifecycle

if TYPE_CHECKING:
    from datetime import datetime

    from eventcore.write.events import RecordedEvent

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
    from eventcore.write.events import RecordedEvent

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


def view_table(logical_id: str = "OrdersView") -> dict[str, Any]:
    properties = resource(logical_id)["Properties"]
    return {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            **{k: properties[k] for k in ("AttributeDefinitions", "KeySchema")},
            "GlobalSecondaryIndexes": indexes_as_created(properties),
        },
    }


def registry(logical_id: str, stack: str) -> dict[str, Any]:
    """The template's generations registry (its ReadModel metadata too), named for `stack`."""
    declared = resource(logical_id)
    view = declared["Metadata"]["ReadModel"]["View"]
    return {
        **{k: v for k, v in declared.items() if k != "Properties"},
        "Properties": {**declared["Properties"], "Name": f"/{stack}/views/{view}/generations"},
    }


VIEW_STACK = "orders-rebuild-test"
VIEW_TEMPLATE = {
    "Parameters": {"ViewGenerationsCacheSeconds": {"Type": "Number", "Default": 5}},
    "Resources": {
        "OrdersEventLog": log_table(),
        "OrdersView": view_table(),
        "OrdersViewGreen": view_table(),
        "OrdersViewGenerations": registry("OrdersViewGenerations", VIEW_STACK),
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


SHIPMENTS_STACK = "shipping-rebuild-test"
SHIPMENTS_TEMPLATE = {
    "Parameters": {"ViewGenerationsCacheSeconds": {"Type": "Number", "Default": 5}},
    "Resources": {
        "ShippingEventLog": log_table(),
        "ShipmentsView": view_table("ShipmentsView"),
        "ShipmentsViewGreen": view_table("ShipmentsViewGreen"),
        "ShipmentsViewGenerations": registry("ShipmentsViewGenerations", SHIPMENTS_STACK),
    },
}


def planned(store: DynamoDBEventStore, order_id: str, *, at: datetime, then: str = "ready") -> str:
    """A shipment in the shipping log as shipping records it: planned, then ready to ship (or cancelled)."""
    runner = DeciderRunner(shipment_decider, store)
    shipment_id = shipment_id_for(order_id)
    line = ShipmentLine(sku="SKU-TEA-001", name="Green tea, 100 g", quantity=1)
    commands: list[PlanShipment | MarkReady | CancelShipment] = [
        PlanShipment(
            shipment_id=shipment_id,
            order_id=order_id,
            customer_id="customer-alice",
            lines=(line,),
            destination_country="NL",
            at=at,
        )
    ]
    if then == "ready":
        commands.append(MarkReady(shipment_id=shipment_id, at=at + timedelta(minutes=1)))
    else:
        commands.append(CancelShipment(shipment_id=shipment_id, reason="customer_request", at=at))
    for number, command in enumerate(commands):
        runner.handle(
            shipment_id,
            command,
            command_id=f"test:{order_id}:{number}",
            fingerprint=command_fingerprint(command),
        )
    return shipment_id


class ShippingApi:
    """The real shipping API's handler on the stack's tables and registry, as warehouse staff call it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, resources: dict[str, str]) -> None:
        monkeypatch.setenv("EVENT_LOG_TABLE", resources["ShippingEventLog"])
        tables = {"blue": resources["ShipmentsView"], "green": resources["ShipmentsViewGreen"]}
        monkeypatch.setenv("VIEW_TABLES", json.dumps(tables))
        monkeypatch.setenv("VIEW_GENERATIONS", resources["ShipmentsViewGenerations"])
        monkeypatch.setenv("VIEW_GENERATIONS_MAX_AGE", "0")  # a switch is seen by the next request
        self.module = load_function("shipping_api")

    def call(self, path: str, **query: str) -> tuple[int, Any]:
        event = http_event("GET", path, customer="warehouse-staff-1", query=query or None)
        parts = path.strip("/").split("/")
        if len(parts) == 2:
            event["pathParameters"] = {"shipment_id": parts[1]}
        response = self.module.lambda_handler(event, LambdaContext())
        return response["statusCode"], json.loads(response.get("body") or "{}")

    def queue(self) -> list[str]:
        status, body = self.call("/shipments", status="ready_to_ship")
        assert status == 200, body
        return [shipment["shipment_id"] for shipment in body["shipments"]]


class TestShipmentsViewRebuildOnAStack:
    def test_shipments_the_active_generation_lost_are_rebuilt_into_green_and_read_after_the_switch(
        self, aws, personal_data_keys, monkeypatch, capsys
    ):
        # GIVEN the shipping log, ShipmentsView's two tables and its registry on a stack; three shipments in
        # the log (two ready to ship, one cancelled) that the active generation (blue) never got: its
        # projector was parked past the stream's retention
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName=SHIPMENTS_STACK, TemplateBody=json.dumps(SHIPMENTS_TEMPLATE))
        resources = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cloudformation.list_stack_resources(StackName=SHIPMENTS_STACK)["StackResourceSummaries"]
        }
        log = DynamoDBEventStore(resources["ShippingEventLog"], boto3.client("dynamodb"))
        later = planned(log, "order-later", at=T0 + timedelta(hours=1))
        first = planned(log, "order-first", at=T0)
        planned(log, "order-cancelled", at=T0, then="cancelled")
        api = ShippingApi(monkeypatch, resources)
        assert api.queue() == []
        assert api.call(f"/shipments/{first}")[0] == 404

        def on_stack(*arguments: str) -> tuple[int, Any]:
            capsys.readouterr()
            status = main(["--stack", SHIPMENTS_STACK, "--region", "eu-west-1", *arguments])
            out = capsys.readouterr().out
            return status, json.loads(out) if out.startswith(("{", "[")) else out

        # WHEN the operator rebuilds ShipmentsView into a new generation from the shipping log
        status, built = on_stack("rebuild", "ShipmentsView", "--settle", "0", "--json")

        # THEN green is ready with every shipment, and the shipping API still reads blue
        assert status == 0
        assert (built["generation"], built["ready"], built["backfill"]["rows"]) == ("green", True, 3)
        assert built["projection"] == "shipping.read_model:shipment_projection"
        assert api.queue() == []

        # WHEN switched, THEN the shipping API reads green: the queue to pick oldest first, each shipment
        status, switched = on_stack("rebuild", "switch", "ShipmentsView")
        assert status == 0
        assert "green is active, blue standby (still fed); every query reads green within 5 s" in switched
        assert api.queue() == [first, later]
        status, shipment = api.call(f"/shipments/{first}")
        assert status == 200
        assert (shipment["status"], shipment["order_id"], shipment["version"]) == (
            "ready_to_ship",
            "order-first",
            2,
        )
        status, cancelled = api.call("/shipments", status="cancelled")
        assert [s["order_id"] for s in cancelled["shipments"]] == ["order-cancelled"]

        # AND a row lost from green is repaired in place (the ShipmentProjectorDLQ runbook)
        boto3.client("dynamodb").delete_item(
            TableName=resources["ShipmentsViewGreen"], Key={"shipment_id": {"S": first}}
        )
        assert api.queue() == [later]
        status, repaired = on_stack("rebuild", "shipmentsview", "--in-place", "--json")
        assert (status, repaired["rows_written"], repaired["failed_streams"]) == (0, 1, 0)
        assert api.queue() == [first, later]
        assert api.call(f"/shipments/{first}") == (200, shipment)
        states = {g["name"]: g["state"] for g in on_stack("rebuild", "status", "--json")[1]["ShipmentsView"]}
        assert states == {"blue": "standby", "green": "active"}


def test_a_functions_log_group_is_the_one_its_logging_config_names():
    # template.yaml gives every function a log group of its own (/aws/lambda/<stack>/<role>), and lets
    # CloudFormation name the function: the group is found through LoggingConfig, not the function's name.
    from ops.target import Target
    from ops.template import StackShape

    shape = StackShape.of(
        {
            "Resources": {
                "OrdersApiFunction": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"LoggingConfig": {"LogGroup": {"Ref": "OrdersApiLogGroup"}}},
                },
                "OrdersApiLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
                "LegacyFunction": {"Type": "AWS::Lambda::Function", "Properties": {}},
            }
        }
    )
    physical = {
        "OrdersApiFunction": f"{STACK}-OrdersApiFunction-AbC123",
        "OrdersApiLogGroup": f"/aws/lambda/{STACK}/orders-api",
        "LegacyFunction": f"{STACK}-LegacyFunction-XyZ789",
    }
    target = Target(STACK, shape, physical, "eu-west-1", False, boto3.session.Session())
    assert target.log_group("OrdersApiFunction") == f"/aws/lambda/{STACK}/orders-api"
    assert target.log_group("LegacyFunction") == f"/aws/lambda/{STACK}-LegacyFunction-XyZ789"
