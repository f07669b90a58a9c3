"""The operator's command line against a local cloud running template.yaml: a poison command parked in the
FIFO DLQ, its cause repaired, redriven, applied once; a Kinesis consumer's parked batch decoded from the
stream; an order's story across both contexts' logs (the rebuild commands have a local cloud of their own:
tests/e2e/test_rebuild_generations.py). One local cloud for the module;
every wait is a poll with a deadline."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import requests

from eventcore import DynamoDBEventStore, commit_to_item
from eventcore.messaging.inbound import CommandMessage
from localcloud import LocalCloud
from ops.cli import main
from ops.target import local_target
from ops.template import TEMPLATE
from orders.service import order_id_for
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

SAGA_TIMEOUT = 30.0
LINES = [{"sku": "SKU-TEA-001", "quantity": 1}]


@pytest.fixture(scope="module")
def function_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ops") / "functions.log"


@pytest.fixture(scope="module")
def cloud(function_logs: Path) -> Iterator[LocalCloud]:
    with LocalCloud(
        TEMPLATE, port=0, moto_port=0, output=io.StringIO(), function_logs=function_logs
    ) as running:
        yield running


def ops(cloud: LocalCloud, capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, Any]:
    """`python -m ops --json ...` against this local cloud: (exit status, the JSON it printed)."""
    capsys.readouterr()
    status = main(
        ["--endpoint-url", cloud.endpoint_url, "--gateway-url", cloud.gateway_url, "--json", *arguments]
    )
    out = capsys.readouterr().out
    return status, json.loads(out) if out.strip() else None


def place(cloud: LocalCloud, customer: str, key: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {cloud.token(customer)}"}
    if key:
        headers["Idempotency-Key"] = key
    address = {"name": "Ada", "line1": "Kade 1", "city": "Utrecht", "postal_code": "3511 AA", "country": "NL"}
    body: dict[str, Any] = {"lines": LINES, "shipping_address": address}
    response = requests.post(f"{cloud.gateway_url}/orders", json=body, headers=headers, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()


def wait_for_status(cloud: LocalCloud, customer: str, order_id: str, status: str) -> None:
    headers = {"Authorization": f"Bearer {cloud.token(customer)}"}

    def reached() -> bool:
        response = requests.get(f"{cloud.gateway_url}/orders/{order_id}", headers=headers, timeout=60)
        return response.status_code == 200 and response.json()["status"] == status

    wait_until(reached, timeout=SAGA_TIMEOUT)


def order_commits(cloud: LocalCloud, order_id: str) -> list[Any]:
    store = DynamoDBEventStore(cloud.physical_id("OrdersEventLog"), cloud.client("dynamodb"))
    return list(store.read(f"Order-{order_id}"))


def queue_depth(cloud: LocalCloud, logical_id: str) -> int:
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=cloud.physical_id(logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def parked_batches(cloud: LocalCloud) -> list[str]:
    """The keys of the batches parked in the failed-batches bucket."""
    bucket = cloud.physical_id("FailedBatchesBucket")
    listing = cloud.client("s3").list_objects_v2(Bucket=bucket)
    return [entry["Key"] for entry in listing.get("Contents", [])]


def view_row(cloud: LocalCloud, order_id: str) -> dict[str, Any] | None:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.physical_id("OrdersView"), Key={"order_id": {"S": order_id}}, ConsistentRead=True
    )
    return item.get("Item")


def park_projector_batch(cloud: LocalCloud, order_id: str, commits: list[Any], failed_at: datetime) -> None:
    """What Lambda writes to an S3 on-failure destination for a DynamoDB stream batch that used up its
    retries: the invocation record, with the batch as the function got it. The stream it names is gone."""
    projector = cloud.function_name("OrderProjectorFunction")
    table = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-event-log"
    stream_arn = f"{table}/stream/{failed_at:%Y-%m-%dT%H:%M:%S.000}"
    shard = "shardId-00000000000000000000-00000000"
    records: list[dict[str, Any]] = [
        {
            "eventID": uuid.uuid4().hex,
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "ApproximateCreationDateTime": failed_at.timestamp(),
                "Keys": {"stream": {"S": f"Order-{order_id}"}, "version": {"N": str(commit.version)}},
                "NewImage": commit_to_item(commit),
                "SequenceNumber": f"{100000000000000000001 + position}",
                "SizeBytes": 1000,
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": stream_arn,
        }
        for position, commit in enumerate(commits)
    ]
    document = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:eu-west-1:123456789012:function:{projector}",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 6,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": failed_at.isoformat().replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": failed_at.isoformat(),
            "approximateArrivalOfLastRecord": failed_at.isoformat(),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
        "payload": json.dumps({"Records": records}),
    }
    key = f"aws/lambda/{uuid.uuid4()}/{shard}/{failed_at:%Y/%m/%d}/{order_id}"
    cloud.client("s3").put_object(
        Bucket=cloud.physical_id("FailedBatchesBucket"), Key=key, Body=json.dumps(document).encode()
    )


@pytest.fixture(scope="module")
def traced(cloud: LocalCloud) -> dict[str, Any]:
    """An order placed up front, so its saga runs while the other tests set theirs up."""
    return place(cloud, "ops-bob")


class TestParkedCommands:
    def test_a_poison_command_is_parked_then_redriven_once_its_cause_is_repaired(
        self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # GIVEN a customer's cancellation queued for an order that does not exist yet: the handler refuses
        # it (OrderNotFoundError is not final), and after maxReceiveCount receives SQS parks it in the DLQ.
        # The queue's 60 s visibility timeout is shortened to 1 s here, so the three receives take seconds.
        sqs = cloud.client("sqs")
        queue = cloud.physical_id("OrderCommandsQueue")
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
        order_id = order_id_for("ops-alice", "ops-checkout-1")
        command = CommandMessage(
            command_type="CancelOrder",
            command_id="CancelOrder:support:ticket-4711",
            payload={
                "order_id": order_id,
                "reason": "customer_request",
                "requested_by": "ops-alice",
                "at": datetime.now(UTC).isoformat(),
            },
            correlation_id="support-ticket-4711",
        )
        sqs.send_message(QueueUrl=queue, **command.sqs_entry(group_id=order_id))
        wait_until(lambda: queue_depth(cloud, "OrderCommandsDLQ") == 1, timeout=30)

        # WHEN the operator looks
        status, queues = ops(cloud, capsys, "dlq", "list", "--check")
        parked = {q["logical_id"]: q for q in queues}
        status_shown, shown = ops(cloud, capsys, "dlq", "show", "OrderCommandsDLQ")

        # THEN every DLQ is listed, this one with the message, and --check says so; show decodes it
        assert status == 1
        assert parked["OrderCommandsDLQ"]["depth"] == 1
        assert parked["OrderCommandsDLQ"]["parks"].startswith("OrderCommandsQueue")
        assert {"FailedBatchesQueue", "ShippingCommandsDLQ", "FulfillmentDeadlinesDLQ"} <= set(parked)
        assert status_shown == 0
        (message,) = shown
        assert message["message_group_id"] == order_id
        assert message["receive_count"] >= 3
        assert message["command"]["command_type"] == "CancelOrder"
        assert message["command"]["command_id"] == command.command_id
        assert queue_depth(cloud, "OrderCommandsDLQ") == 1, "show leaves the message parked"

        # WHEN the cause is repaired (the order is placed) and the DLQ redriven
        # (whether the saga confirms it first or not, the customer's cancellation wins: a ConfirmOrder on a
        # cancelled order is a final refusal, and payments voids the payment)
        placed = place(cloud, "ops-alice", key="ops-checkout-1")
        assert placed["order_id"] == order_id
        status, report = ops(cloud, capsys, "dlq", "redrive", "OrderCommandsDLQ")

        # THEN it is moved with its command id's deduplication id, and applied once
        assert status == 0, report
        assert report["moved"] == 1
        assert report["left"] == []
        assert report["deduplication_ids"] == [command.sqs_entry(order_id)["MessageDeduplicationId"]]
        wait_for_status(cloud, "ops-alice", order_id, "cancelled")
        assert queue_depth(cloud, "OrderCommandsDLQ") == 0

        # AND a second application (a copy redriven past SQS's deduplication window) records nothing
        copy = {**command.sqs_entry(group_id=order_id), "MessageDeduplicationId": "a-later-copy"}
        sqs.send_message(QueueUrl=queue, **copy)
        # (handled once deleted: the handler deletes a message only after its commit, or its refusal)
        wait_until(lambda: queue_depth(cloud, "OrderCommandsQueue") == 0, timeout=30)
        applied = [c for c in order_commits(cloud, order_id) if c.command_id == command.command_id]
        assert len(applied) == 1
        assert [e.event_type for e in applied[0].events] == ["OrderCancelled"]
        assert applied[0].correlation_id == "support-ticket-4711"


class TestParkedStreamBatches:
    def test_a_kinesis_consumers_failed_batch_is_kept_whole_shown_and_stays_parked_if_it_fails_again(
        self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # GIVEN garbage on order-events: the process manager fails it through its retries, and Lambda parks
        # the whole batch in the failed-batches bucket, whose notice lands in FailedBatchesQueue
        parked_before = parked_batches(cloud)
        kinesis = cloud.client("kinesis")
        put = kinesis.put_record(
            StreamName=cloud.physical_id("OrderEventsStream"),
            Data=b"not a cloudevent",
            PartitionKey="garbage",
        )
        wait_until(lambda: len(parked_batches(cloud)) > len(parked_before), timeout=60)

        # WHEN the operator shows it
        status, shown = ops(cloud, capsys, "dlq", "show", "FailedBatchesQueue")

        # THEN the batch is read from the bucket, not the stream, and decoded the way the consumer reads it
        assert status == 0
        batches = [
            b for m in shown for b in m["batches"] if b["sequence_numbers"][0] == put["SequenceNumber"]
        ]
        (batch,) = batches
        assert batch["condition"] == "RetryAttemptsExhausted"
        (record,) = batch["records"]
        assert record["readable"] is False
        assert "not a CloudEvents 1.0 JSON event" in record["problem"]
        assert record["data"] == "not a cloudevent"

        # WHEN it is redriven before the cause is fixed: the consumer is invoked with the batch again
        status, report = ops(cloud, capsys, "dlq", "redrive", "FailedBatchesQueue")

        # THEN it fails again and stays parked, and the command says so
        assert status == 1
        assert any("failed" in why for _, why in report["left"])
        assert len(parked_batches(cloud)) > len(parked_before)

    def test_a_batch_that_failed_more_than_a_day_ago_is_redriven_from_the_bucket_and_applied_once(
        self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # GIVEN an order whose projection never happened: its row is missing from OrdersView, and Lambda
        # parked the projector's batch 25 hours ago, when the stream still held it (it no longer does)
        order_id = place(cloud, "ops-carol")["order_id"]
        wait_for_status(cloud, "ops-carol", order_id, "confirmed")
        commits = order_commits(cloud, order_id)
        last = commits[-1].last_version
        wait_until(
            lambda: (row := view_row(cloud, order_id)) is not None and int(row["version"]["N"]) == last
        )
        cloud.client("dynamodb").delete_item(
            TableName=cloud.physical_id("OrdersView"), Key={"order_id": {"S": order_id}}
        )
        failed_at = datetime.now(UTC) - timedelta(hours=25)
        park_projector_batch(cloud, order_id, commits, failed_at)
        wait_until(lambda: any(order_id in key for key in parked_batches(cloud)), timeout=30)

        # WHEN the operator redrives it
        _, report = ops(cloud, capsys, "dlq", "redrive", "FailedBatchesQueue")
        assert report["moved"] >= 1

        # THEN the projector applied it, once: the row is back at the version the log has, and the batch is
        # no longer parked; a second redrive finds nothing of it
        assert not any(order_id in key for key in parked_batches(cloud))
        row = view_row(cloud, order_id)
        assert row is not None
        assert int(row["version"]["N"]) == last
        ops(cloud, capsys, "dlq", "redrive", "FailedBatchesQueue")
        assert view_row(cloud, order_id) == row

    def test_a_notice_whose_batch_is_already_gone_is_cleared_not_left_parked_for_ever(
        self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # GIVEN a notice on FailedBatchesQueue whose object is no longer in the bucket (a redrive that deleted
        # the object and ended before the notice, a batch removed by hand, or one expired)
        bucket = cloud.physical_id("FailedBatchesBucket")
        key = f"aws/lambda/{uuid.uuid4()}/shardId-0/2026/12/05/gone"
        where = f"s3://{bucket}/{key}"
        cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=b"{}")

        def shown() -> list[dict[str, Any]]:
            _, messages = ops(cloud, capsys, "dlq", "show", "FailedBatchesQueue", "--max", "100")
            return [b for m in messages for b in m["batches"] if b["object"] == where]

        wait_until(shown, timeout=30)
        cloud.client("s3").delete_object(Bucket=bucket, Key=key)
        (batch,) = shown()
        assert batch["gone"] is True

        # WHEN the operator redrives the queue
        _, report = ops(cloud, capsys, "dlq", "redrive", "FailedBatchesQueue")

        # THEN the notice is deleted and reported as such, not left parked (where it would keep the alarm on)
        assert where in report["gone"]
        assert report["cleared"] >= 1
        assert not any(where in why for _, why in report["left"])
        assert shown() == []


class TestTrace:
    def test_an_orders_story_lists_every_event_of_every_context_in_order(
        self,
        cloud: LocalCloud,
        capsys: pytest.CaptureFixture[str],
        traced: dict[str, Any],
        function_logs: Path,
    ) -> None:
        # GIVEN an order placed through the gateway and confirmed through the payment saga
        order_id = traced["order_id"]
        wait_for_status(cloud, "ops-bob", order_id, "confirmed")

        # WHEN it is traced (once shipping has made its parcel ready, the last step without staff)
        def traced_to_the_warehouse() -> tuple[int, Any] | None:
            status, story = ops(cloud, capsys, "trace", order_id, "--logs", str(function_logs))
            kinds = {e["event_type"] for e in story["events"]} if status == 0 else set()
            return (status, story) if "ShipmentReady" in kinds else None

        status, story = wait_until(traced_to_the_warehouse, timeout=SAGA_TIMEOUT, interval=0.5)

        # THEN every event of every context's log is there, in time order, as the logs hold them: the
        # order's, the process manager's (in the orders log), the stock's, the payment's and the shipment's
        assert status == 0
        events = story["events"]
        types = [e["event_type"] for e in events]
        assert types[0] == "OrderCreated"
        assert sorted(types) == sorted(
            [
                "OrderCreated",
                "FulfillmentStarted",
                "ShipmentPlanned",
                "StockReserved",
                "StockAnswered",
                "PaymentRequested",
                "PaymentAuthorized",
                "PaymentAnswered",
                "FulfillmentCompleted",
                "AuthorisationWatched",  # the process looks at the authorisation again before it expires
                "OrderConfirmed",
                "ShipmentReady",
            ]
        )
        for cause, effect in [
            ("FulfillmentStarted", "StockReserved"),
            ("PaymentAuthorized", "FulfillmentCompleted"),
            ("OrderConfirmed", "ShipmentReady"),
        ]:
            assert types.index(cause) < types.index(effect)
        assert {e["log"] for e in events} == {
            "OrdersEventLog",
            "PaymentsEventLog",
            "InventoryEventLog",
            "ShippingEventLog",
        }
        assert [e["at"] for e in events] == sorted(e["at"] for e in events)
        truth = {c.version: [e.event_id for e in c.events] for c in order_commits(cloud, order_id)}
        assert [e["event_id"] for e in events if e["stream"] == f"Order-{order_id}"] == [
            i for v in truth.values() for i in v
        ]
        # one request began it all: every commit carries its correlation id, each caused by an earlier event
        (correlation,) = story["correlation_ids"]
        assert all(e["correlation_id"] == correlation for e in events)
        seen: set[str] = set()
        for event in events:
            assert event["causation_id"] is None or event["causation_id"] in seen, event
            seen.add(event["event_id"])
        assert events[-1]["causation_id"] is not None
        # and the functions' log lines of that correlation id, from each hop
        services = {line.get("service") for line in story["log_lines"]}
        assert {
            "orders-api",
            "fulfillment-process-manager",
            "inventory",
            "payments",
            "order-commands-consumer",
        } <= services
        assert all(
            line.get("correlation_id") == correlation or line.get("order_id") == order_id
            for line in story["log_lines"]
        )

    def test_an_unknown_order_has_no_story(
        self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status, story = ops(cloud, capsys, "trace", str(uuid.uuid4()))
        assert status == 1
        assert story["events"] == []


class TestUsage:
    def test_no_local_cloud_is_a_configuration_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        status = main(["--endpoint-url", "http://127.0.0.1:9", "dlq", "list"])
        assert status == 2
        assert "no local cloud at http://127.0.0.1:9" in capsys.readouterr().err

    def test_an_unknown_view_is_a_usage_error_naming_the_known_ones(
        self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status = main(["--endpoint-url", cloud.endpoint_url, "rebuild", "status", "NoSuchView"])
        assert status == 2
        error = capsys.readouterr().err
        assert "no rebuildable view 'NoSuchView'; there are: OrdersView, ShipmentsView" in error

    def test_an_unknown_queue_is_a_usage_error_naming_the_known_ones(
        self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status = main(["--endpoint-url", cloud.endpoint_url, "dlq", "show", "NoSuchDLQ"])
        assert status == 2
        error = capsys.readouterr().err
        assert "no dead-letter queue 'NoSuchDLQ'" in error
        assert "OrderCommandsDLQ" in error

    def test_a_local_cloud_of_one_region_has_no_regions_to_list_or_cut(
        self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
    ) -> None:
        for action in (["list"], ["cut", "eu-west-1"]):
            status, _ = ops(cloud, capsys, "regions", *action)
            assert status == 2
        status = main(["--gateway-url", cloud.gateway_url, "failover", "--to", "eu-central-1"])
        assert status == 2
        assert "this local cloud runs one region" in capsys.readouterr().err


class TestTarget:
    def test_the_local_target_is_the_stack_the_local_cloud_describes(self, cloud: LocalCloud) -> None:
        target = local_target(cloud.endpoint_url, TEMPLATE, cloud.gateway_url)
        assert target.region == cloud.region
        assert target.parameters["Replication"] == "none"
        assert target.outputs["OrdersEventLogTable"] == cloud.physical_id("OrdersEventLog")
        assert target.outputs["PaymentsEventLogTable"] == cloud.physical_id("PaymentsEventLog")
        assert "ActiveRegionTable" not in target.outputs  # Condition: Replicated
        # A name the template builds from the stack's id is the same in moto and in the functions.
        stack_id = cloud.client("cloudformation").describe_stacks(StackName="localcloud")["Stacks"][0][
            "StackId"
        ]
        assert cloud.stack.resolver.parameters["AWS::StackId"] == stack_id
