"""SQS event source (standard and FIFO): Lambda's receive, delete and partial batch semantics against moto.

Successful messages are deleted; failed ones (the whole batch on a function error, the reported ones on a
partial response) are left to reappear after the visibility timeout. moto itself moves a message to the
dead-letter queue once its receive count reaches the redrive policy's maxReceiveCount, and keeps a FIFO
group blocked while one of its messages is in flight, so a failing message holds back only its own group.
Messages that no filter matches are deleted, as Lambda does.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING, Any

from localcloud.pollers.base import Poller

if TYPE_CHECKING:
    from localcloud.filters import RecordFilter
    from localcloud.pollers.base import PollerContext

__all__ = ["SQSPoller"]

RECEIVE_LIMIT = 10  # SQS's maximum per ReceiveMessage


class SQSPoller(Poller):
    def __init__(
        self,
        context: PollerContext,
        queue_arn: str,
        record_filter: RecordFilter,
        trigger: str,
        batch_size: int = 10,
        batching_window: float = 0.0,
        report_item_failures: bool = False,
    ) -> None:
        super().__init__(context, name=f"{context.runtime.name}:{queue_arn.rsplit(':', 1)[-1]}")
        self.queue_arn = queue_arn
        self.record_filter = record_filter
        self.trigger = trigger
        self.batch_size = batch_size
        self.batching_window = batching_window
        self.report_item_failures = report_item_failures
        self._sqs = context.client("sqs")
        self.queue_url = self._sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]

    @property
    def lag(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def _receive(self, count: int) -> list[dict[str, Any]]:
        # Never long-poll: every moto request holds the one lock, and a waiting receive would hold it.
        return self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(count, RECEIVE_LIMIT),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])

    def poll_once(self) -> bool:
        messages = self._receive(self.batch_size)
        if not messages:
            return False
        window_ends = time.monotonic() + self.batching_window
        while len(messages) < self.batch_size:
            more = self._receive(self.batch_size - len(messages))
            messages.extend(more)
            remaining = window_ends - time.monotonic()
            if not more and remaining <= 0:
                break
            if not more:
                self.context.wait_for_write(self.context.writes_seen(), min(remaining, 0.1))
        records = [self._record(message) for message in messages]
        kept = [record for record in records if self.record_filter.keeps(record)]
        dropped = [record for record in records if not self.record_filter.keeps(record)]
        self._delete_messages(dropped)
        if kept:
            self._deliver(kept)
        return True

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        invocation = self.context.runtime.invoke({"Records": records}, self.trigger, len(records))
        failed = self._failed_ids(invocation.payload, records) if invocation.ok else None
        if failed:
            invocation.note = f"partial ({len(failed)} failed)"
        self.context.report(invocation)
        if not invocation.ok:
            return  # all of them come back after the visibility timeout
        self._delete_messages([record for record in records if record["messageId"] not in (failed or set())])

    def _failed_ids(self, payload: Any, records: list[dict[str, Any]]) -> set[str]:
        if not self.report_item_failures or not isinstance(payload, dict):
            return set()
        ids = {record["messageId"] for record in records}
        failed = set()
        for failure in payload.get("batchItemFailures") or []:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in ids:
                return ids  # an unknown or empty identifier fails the whole batch, as in Lambda
            failed.add(str(identifier))
        return failed

    def _delete_messages(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), RECEIVE_LIMIT):
            chunk = records[start : start + RECEIVE_LIMIT]
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
            self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.context.region,
        }


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute shape to the camel-cased shape of a Lambda SQS event."""
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute
