"""The asynchronous event types on a sample template: SNS (with a filter policy and a dead-letter queue),
EventBridge rules (a custom bus with a numeric pattern; InputPath on the default bus), Schedule and
ScheduleV2, and standard SQS queues with message and queue delays. Every event in AWS's shape."""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from support import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = Path(__file__).parent / "samples" / "async" / "template.yaml"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(TEMPLATE, port=0, moto_port=0, output=io.StringIO(), gateway=False) as running:
        yield running


def seen(cloud: LocalCloud, function: str, marker: str) -> list[dict[str, Any]]:
    """The events `function` received that hold `marker`, oldest first, with when they arrived (epoch s)."""
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("SeenTable"))["Items"]
    found = [
        {"at": int(item["at"]["N"]) / 1e9, "event": json.loads(item["event"]["S"])}
        for item in items
        if item["fn"]["S"] == function and marker in item["event"]["S"]
    ]
    return sorted(found, key=lambda entry: entry["at"])


def events(cloud: LocalCloud, function: str, marker: str) -> list[Any]:
    return [entry["event"] for entry in seen(cloud, function, marker)]


class TestSNS:
    def test_every_subscription_gets_the_message_its_filter_policy_lets_through(
        self, cloud: LocalCloud
    ) -> None:
        sns = cloud.client("sns")
        topic = cloud.physical_id("Notices")
        plain, urgent = f"plain-{uuid.uuid4()}", f"urgent-{uuid.uuid4()}"
        sns.publish(TopicArn=topic, Message=plain, Subject="hello")
        sns.publish(
            TopicArn=topic,
            Message=urgent,
            MessageAttributes={"priority": {"DataType": "String", "StringValue": "urgent"}},
        )
        wait_until(lambda: len(events(cloud, "NoticeFunction", urgent)) == 2, timeout=30)
        cloud.wait_until_idle()
        assert len(events(cloud, "NoticeFunction", plain)) == 1  # the Urgent subscription filtered it out
        record = events(cloud, "NoticeFunction", plain)[0]["Records"][0]
        assert (record["EventSource"], record["EventVersion"]) == ("aws:sns", "1.0")
        assert record["EventSubscriptionArn"].startswith(f"{topic}:")
        notification = record["Sns"]
        assert notification["Type"] == "Notification"
        assert notification["TopicArn"] == topic
        assert (notification["Message"], notification["Subject"]) == (plain, "hello")
        assert notification["MessageId"]
        assert notification["Timestamp"].endswith("Z")
        assert {"SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl"} <= set(notification)
        urgent_records = [e["Records"][0] for e in events(cloud, "NoticeFunction", urgent)]
        assert len({r["EventSubscriptionArn"] for r in urgent_records}) == 2
        assert urgent_records[0]["Sns"]["MessageAttributes"] == {
            "priority": {"Type": "String", "Value": "urgent"}
        }

    def test_a_failing_event_is_tried_three_times_then_goes_to_the_dead_letter_queue(
        self, cloud: LocalCloud
    ) -> None:
        marker = f"fail-me-{uuid.uuid4()}"
        cloud.client("sns").publish(
            TopicArn=cloud.physical_id("Notices"), Message=json.dumps(["fail-me", marker])
        )
        sqs = cloud.client("sqs")
        dlq = cloud.physical_id("FailedDeliveries")

        def dead_letters() -> list[dict[str, Any]]:
            messages = sqs.receive_message(
                QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
            ).get("Messages", [])
            return [m for m in messages if marker in m["Body"]]

        letters = wait_until(dead_letters, timeout=30)
        assert len(events(cloud, "NoticeFunction", marker)) == 3  # one attempt and Lambda's two retries
        assert json.loads(letters[0]["Body"])["Records"][0]["Sns"]["Message"] == json.dumps(
            ["fail-me", marker]
        )
        assert letters[0]["MessageAttributes"]["ErrorMessage"]["StringValue"] == "asked to fail"
        assert letters[0]["MessageAttributes"]["RequestID"]["StringValue"]


class TestEventBridge:
    def test_a_rule_on_a_custom_bus_delivers_the_events_its_pattern_matches(self, cloud: LocalCloud) -> None:
        marker = str(uuid.uuid4())
        entries = [
            {
                "Source": "sample.shipping",
                "DetailType": "ParcelShipped",
                "Detail": json.dumps({"weight": w, "m": marker}),
                "EventBusName": "sample-bus",
            }
            for w in (12, 5)
        ]
        cloud.client("events").put_events(Entries=entries)
        wait_until(lambda: events(cloud, "RuleFunction", marker), timeout=30)
        cloud.wait_until_idle()
        (event,) = events(cloud, "RuleFunction", marker)
        assert event["detail"] == {"weight": 12, "m": marker}
        assert (event["version"], event["source"], event["detail-type"]) == (
            "0",
            "sample.shipping",
            "ParcelShipped",
        )
        assert event["account"] == "123456789012"
        assert event["region"] == cloud.region
        assert event["id"]
        assert event["time"].endswith("Z")
        assert "resources" in event

    def test_input_path_passes_on_only_that_part_of_the_event(self, cloud: LocalCloud) -> None:
        marker = str(uuid.uuid4())
        cloud.client("events").put_events(
            Entries=[
                {
                    "Source": "sample.default-bus",
                    "DetailType": "Anything",
                    "Detail": json.dumps({"m": marker}),
                }
            ]
        )
        assert wait_until(lambda: events(cloud, "RuleFunction", marker), timeout=30) == [{"m": marker}]


class TestSchedules:
    def test_a_schedule_rule_sends_the_scheduled_event(self, cloud: LocalCloud) -> None:
        assert cloud.scheduler is not None
        before = len(seen(cloud, "ScheduledFunction", "Scheduled Event"))
        cloud.scheduler.fire_now("sample-nightly")
        found = wait_until(lambda: events(cloud, "ScheduledFunction", "Scheduled Event")[before:], timeout=30)
        event = found[0]
        assert event["detail-type"] == "Scheduled Event"
        assert (event["source"], event["detail"], event["version"]) == ("aws.events", {}, "0")
        assert event["resources"] == [f"arn:aws:events:{cloud.region}:123456789012:rule/sample-nightly"]

    def test_a_schedule_v2_passes_its_input(self, cloud: LocalCloud) -> None:
        assert cloud.scheduler is not None
        before = len(seen(cloud, "ScheduledFunction", '"tick"'))
        cloud.scheduler.fire_now("sample-every-minute")
        found = wait_until(lambda: events(cloud, "ScheduledFunction", '"tick"')[before:], timeout=30)
        assert found[0] == {"job": "tick"}

    def test_each_schedule_knows_its_next_time(self, cloud: LocalCloud) -> None:
        assert cloud.scheduler is not None
        nightly = cloud.scheduler.schedules["sample-nightly"]
        wait_until(lambda: nightly.next_at is not None)
        assert nightly.next_at is not None
        assert (nightly.next_at.hour, nightly.next_at.minute) == (3, 0)


class TestStandardQueueDelays:
    def test_a_message_is_delivered_only_after_its_own_delay(self, cloud: LocalCloud) -> None:
        marker = str(uuid.uuid4())
        sent = time.time()
        cloud.client("sqs").send_message(
            QueueUrl=cloud.physical_id("Deadlines"), MessageBody=json.dumps({"due": marker}), DelaySeconds=2
        )
        (delivery,) = wait_until(lambda: seen(cloud, "DeadlineFunction", marker), timeout=30)
        assert delivery["at"] - sent >= 2
        assert delivery["event"]["Records"][0]["eventSource"] == "aws:sqs"

    def test_the_queues_delay_holds_back_a_message_without_one(self, cloud: LocalCloud) -> None:
        marker = str(uuid.uuid4())
        sent = time.time()
        cloud.client("sqs").send_message(
            QueueUrl=cloud.physical_id("Deadlines"), MessageBody=json.dumps({"due": marker})
        )
        (delivery,) = wait_until(lambda: seen(cloud, "DeadlineFunction", marker), timeout=30)
        assert delivery["at"] - sent >= 1  # DelaySeconds: 1 on the queue
