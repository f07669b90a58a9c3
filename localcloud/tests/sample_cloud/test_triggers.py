"""The emulated event source mappings, end to end through moto and the sample consumer functions."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from support import wait_until

if TYPE_CHECKING:
    from localcloud import LocalCloud

_failures: list[dict[str, Any]] = []
DEADLINE = 60.0  # generous: bisection takes several invocations, and the machine may be busy


def eventually(predicate: Any) -> Any:
    return wait_until(predicate, timeout=DEADLINE)


def seen(cloud: LocalCloud, function: str, run: str) -> list[dict[str, Any]]:
    """The batches `function` received that hold ids of this test run, oldest first."""
    table = cloud.physical_id("SeenTable")
    items = cloud.client("dynamodb").scan(TableName=table)["Items"]
    batches = []
    for item in items:
        ids = [value["S"] for value in item["ids"]["L"]]
        if item["fn"]["S"] == function and any(i.startswith(run) for i in ids):
            failed = [value["S"] for value in item["failed"]["L"]]
            batches.append({"at": int(item["at"]["N"]), "ids": ids, "failed": failed})
    return sorted(batches, key=lambda batch: batch["at"])


def id_lists(batches: list[dict[str, Any]]) -> list[list[str]]:
    return [batch["ids"] for batch in batches]


def failure_records(cloud: LocalCloud, key: str) -> list[dict[str, Any]]:
    """Messages on the sample's on-failure queue carrying `key` (DDBStreamBatchInfo or KinesisBatchInfo)."""
    sqs = cloud.client("sqs")
    url = cloud.physical_id("FailureQueue")
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        _failures.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [record for record in _failures if key in record]


def put_items(cloud: LocalCloud, items: list[dict[str, Any]]) -> None:
    """One BatchWriteItem, so that the stream holds all the records before the poller looks."""
    requests = []
    for sk, item in enumerate(items):
        image = {"pk": {"S": item["id"]}, "sk": {"N": str(sk)}, "id": {"S": item["id"]}}
        image["kind"] = {"S": item.get("kind", "thing")}
        for flag in ("raise", "fail", "fail_times"):
            if flag in item:
                image[flag] = {"S": str(item[flag])}
        requests.append({"PutRequest": {"Item": image}})
    cloud.client("dynamodb").batch_write_item(RequestItems={cloud.physical_id("EventsTable"): requests})


class TestDynamoDBStream:
    def test_a_partial_batch_response_redelivers_from_the_failed_record(self, cloud: LocalCloud) -> None:
        run = f"p-{uuid.uuid4().hex[:8]}"
        # GIVEN a batch whose second record fails once
        put_items(cloud, [{"id": f"{run}-1"}, {"id": f"{run}-2", "fail_times": 1}, {"id": f"{run}-3"}])
        # THEN the poller retries from the failed record, the one before it is checkpointed
        batches = eventually(lambda: (b := seen(cloud, "TableConsumerFunction", run)) and len(b) >= 2 and b)
        assert id_lists(batches) == [[f"{run}-1", f"{run}-2", f"{run}-3"], [f"{run}-2", f"{run}-3"]]
        assert batches[0]["failed"] == [f"{run}-2"]

    def test_bisect_isolates_a_failing_record_and_sends_it_to_the_destination(
        self, cloud: LocalCloud
    ) -> None:
        run = f"b-{uuid.uuid4().hex[:8]}"
        ids = [f"{run}-{n}" for n in range(1, 5)]
        # GIVEN a batch of four whose third record always fails the whole invocation
        put_items(cloud, [{"id": ids[0]}, {"id": ids[1]}, {"id": ids[2], "raise": "yes"}, {"id": ids[3]}])
        # THEN the batch is split until the record is alone; it is retried once, then handed over
        expected = [ids, ids[:2], ids[2:], [ids[2]], [ids[2]], [ids[3]]]
        eventually(lambda: len(seen(cloud, "TableConsumerFunction", run)) >= len(expected))
        assert id_lists(seen(cloud, "TableConsumerFunction", run)) == expected
        records = eventually(lambda: failure_records(cloud, "DDBStreamBatchInfo"))
        record = records[-1]
        assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 2
        assert record["requestContext"]["functionArn"].endswith(":function:TableConsumerFunction")
        assert record["responseContext"]["functionError"] == "Unhandled"
        info = record["DDBStreamBatchInfo"]
        assert info["batchSize"] == 1
        assert info["startSequenceNumber"] == info["endSequenceNumber"]
        assert info["streamArn"] == cloud.attribute("EventsTable", "StreamArn")
        assert info["shardId"]
        assert info["approximateArrivalOfFirstRecord"].endswith("Z")

    def test_a_filter_drops_records_that_do_not_match(self, cloud: LocalCloud) -> None:
        run = f"f-{uuid.uuid4().hex[:8]}"
        put_items(cloud, [{"id": f"{run}-ignored", "kind": "ignored"}, {"id": f"{run}-kept"}])
        eventually(lambda: seen(cloud, "TableConsumerFunction", run))
        cloud.wait_until_idle()
        assert id_lists(seen(cloud, "TableConsumerFunction", run)) == [[f"{run}-kept"]]

    def test_records_have_the_lambda_shape(self, cloud: LocalCloud) -> None:
        run = f"s-{uuid.uuid4().hex[:8]}"
        put_items(cloud, [{"id": f"{run}-1"}])
        eventually(lambda: seen(cloud, "TableConsumerFunction", run))
        invocation = next(i for i in reversed(cloud.invocations) if i.function == "TableConsumerFunction")
        assert invocation.trigger == "ddb-stream sample-events-test"
        assert invocation.status == "ok"


class TestKinesis:
    def test_bisect_filters_and_destination(self, cloud: LocalCloud) -> None:
        run = f"k-{uuid.uuid4().hex[:8]}"
        ids = [f"{run}-{n}" for n in range(1, 5)]
        payloads = [
            {"id": ids[0], "kind": "keep", "size": 1},
            {"id": ids[1], "kind": "keep", "size": 1, "raise": True},
            {"id": f"{run}-dropped", "kind": "drop", "size": 1},
            {"id": ids[2], "kind": "keeper", "size": 2},
            {"id": ids[3], "kind": "keep", "size": 0},
        ]
        records = [{"Data": json.dumps(p).encode(), "PartitionKey": run} for p in payloads]
        records.append({"Data": b"not json", "PartitionKey": run})
        cloud.client("kinesis").put_records(StreamName=cloud.physical_id("SampleStream"), Records=records)
        # THEN: [1,2,3,4] fails, [1,2] fails, [1] ok, [2] fails with no retries left, [3,4] ok
        expected = [ids, ids[:2], ids[:1], ids[1:2], ids[2:]]
        eventually(lambda: len(seen(cloud, "StreamConsumerFunction", run)) >= len(expected))
        cloud.wait_until_idle()
        assert id_lists(seen(cloud, "StreamConsumerFunction", run)) == expected
        record = eventually(lambda: failure_records(cloud, "KinesisBatchInfo"))[-1]
        info = record["KinesisBatchInfo"]
        assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 1
        assert info["batchSize"] == 1
        assert info["shardId"].startswith("shardId-")
        assert info["streamArn"] == cloud.attribute("SampleStream", "Arn")
        assert record["version"] == "1.0"


class TestSQS:
    def test_partial_failures_retry_and_end_in_the_dead_letter_queue(self, cloud: LocalCloud) -> None:
        run = f"q-{uuid.uuid4().hex[:8]}"
        sqs = cloud.client("sqs")
        bodies = [
            {"id": f"{run}-ok", "kind": "x"},
            {"id": f"{run}-once", "kind": "x", "fail_times": 1},
            {"id": f"{run}-poison", "kind": "x", "fail": "always"},
            {"id": f"{run}-filtered"},
        ]
        entries = [{"Id": str(n), "MessageBody": json.dumps(body)} for n, body in enumerate(bodies)]
        sqs.send_message_batch(QueueUrl=cloud.physical_id("WorkQueue"), Entries=entries)
        dlq = cloud.physical_id("WorkDeadLetters")

        def dead_letters() -> list[dict[str, Any]]:
            return sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
                "Messages", []
            )

        letters = eventually(dead_letters)
        assert [json.loads(m["Body"])["id"] for m in letters] == [f"{run}-poison"]
        delivered = [i for batch in seen(cloud, "WorkConsumerFunction", run) for i in batch["ids"]]
        assert delivered.count(f"{run}-ok") == 1
        assert delivered.count(f"{run}-once") == 2
        assert delivered.count(f"{run}-poison") == 2
        assert f"{run}-filtered" not in delivered

    def test_fifo_keeps_group_order_and_a_failure_blocks_only_its_group(self, cloud: LocalCloud) -> None:
        run = f"o-{uuid.uuid4().hex[:8]}"
        sqs = cloud.client("sqs")
        messages = [
            ("a", {"id": f"{run}-a1", "fail": "always"}),
            ("b", {"id": f"{run}-b1"}),
            ("a", {"id": f"{run}-a2"}),
            ("b", {"id": f"{run}-b2"}),
            ("b", {"id": f"{run}-b3"}),
        ]
        for group, body in messages:
            sqs.send_message(
                QueueUrl=cloud.physical_id("FifoQueue"),
                MessageBody=json.dumps(body),
                MessageGroupId=run + group,
            )

        def succeeded() -> list[str]:
            return [
                i
                for batch in seen(cloud, "CommandConsumerFunction", run)
                for i in batch["ids"]
                if i not in batch["failed"]
            ]

        eventually(lambda: f"{run}-a2" in succeeded())
        order = succeeded()
        assert [i for i in order if i.rsplit("-", 1)[1].startswith("b")] == [
            f"{run}-b1",
            f"{run}-b2",
            f"{run}-b3",
        ]
        assert f"{run}-a1" not in order
        # group b went through at once, while a2 waited behind a1 until a1 reached the dead-letter queue
        assert order.index(f"{run}-b3") < order.index(f"{run}-a2")
        fifo_dlq = cloud.physical_id("FifoDeadLetters")

        def fifo_dead_letters() -> list[dict[str, Any]]:
            return sqs.receive_message(QueueUrl=fifo_dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
                "Messages", []
            )

        letters = eventually(fifo_dead_letters)
        assert [json.loads(m["Body"])["id"] for m in letters] == [f"{run}-a1"]
        record = next(
            i
            for i in cloud.invocations
            if i.function == "CommandConsumerFunction" and i.trigger.startswith("sqs")
        )
        assert record.trigger == "sqs sample-commands-test.fifo"


def test_sqs_records_have_the_lambda_shape(cloud: LocalCloud) -> None:
    run = f"shape-{uuid.uuid4().hex[:8]}"
    sqs = cloud.client("sqs")
    sqs.send_message(
        QueueUrl=cloud.physical_id("FifoQueue"),
        MessageBody=json.dumps({"id": f"{run}-1"}),
        MessageGroupId=run,
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
    )
    eventually(lambda: seen(cloud, "CommandConsumerFunction", run))
    invocation = next(i for i in reversed(cloud.invocations) if i.function == "CommandConsumerFunction")
    assert invocation.ok


class TestWorkerLifecycle:
    def test_a_message_reaching_a_function_whose_workers_were_killed_idle_is_delivered_once(
        self, cloud: LocalCloud
    ) -> None:
        import os
        import signal

        run = f"kill-{uuid.uuid4().hex[:8]}"
        runtime = cloud.functions["CommandConsumerFunction"]
        runtime.wait_ready(timeout=DEADLINE)
        # GIVEN every worker of the queue's function killed while idle
        eventually(lambda: runtime.idle_pids)
        for pid in runtime.idle_pids:
            os.kill(pid, signal.SIGKILL)
        failures_before = sum(
            1 for i in cloud.invocations if i.function == "CommandConsumerFunction" and not i.ok
        )
        # WHEN a message arrives at once
        cloud.client("sqs").send_message(
            QueueUrl=cloud.physical_id("FifoQueue"),
            MessageBody=json.dumps({"id": f"{run}-1"}),
            MessageGroupId=run,
        )
        # THEN a replacement takes it: one delivery, no failed invocation, no receive burnt
        eventually(lambda: seen(cloud, "CommandConsumerFunction", run))
        cloud.wait_until_idle()
        assert id_lists(seen(cloud, "CommandConsumerFunction", run)) == [[f"{run}-1"]]
        failures = sum(1 for i in cloud.invocations if i.function == "CommandConsumerFunction" and not i.ok)
        assert failures == failures_before


class TestDeadLetterQueues:
    def test_the_console_lists_them_with_their_depth_and_redrives_one(self, cloud: LocalCloud) -> None:
        import requests

        run = f"redrive-{uuid.uuid4().hex[:8]}"
        sqs = cloud.client("sqs")
        dlq_name = cloud.physical_id("WorkDeadLetters").rsplit("/", 1)[-1]
        # GIVEN a message parked in the work queue's dead-letter queue
        body = json.dumps({"id": f"{run}-parked", "kind": "x"})
        sqs.send_message(QueueUrl=cloud.physical_id("WorkDeadLetters"), MessageBody=body)
        overview = requests.get(f"{cloud.gateway_url}/_localcloud/api/overview", timeout=60).json()
        listed = {queue["name"]: queue for queue in overview["dead_letter_queues"]}
        assert set(listed) == {
            dlq_name,
            cloud.physical_id("FifoDeadLetters").rsplit("/", 1)[-1],
            cloud.physical_id("FailureQueue").rsplit("/", 1)[-1],
        }
        assert listed[dlq_name]["depth"] >= 1
        assert listed[dlq_name]["redrivable"] is True
        # WHEN it is redriven
        moved = requests.post(
            f"{cloud.gateway_url}/_localcloud/api/dlq/{dlq_name}/redrive", timeout=60
        ).json()
        # THEN it goes back through its source queue to the function
        assert moved["moved"] >= 1
        eventually(lambda: seen(cloud, "WorkConsumerFunction", run))
        delivered = [i for batch in seen(cloud, "WorkConsumerFunction", run) for i in batch["ids"]]
        assert [i for i in delivered if i.startswith(run)] == [
            f"{run}-parked"
        ]  # other tests' letters may join
