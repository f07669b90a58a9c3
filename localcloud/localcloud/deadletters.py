"""The stack's dead-letter queues: the queues named as some queue's `deadLetterTargetArn` and the queues
that are on-failure destinations or functions' dead-letter queues; their depth, and a redrive.

moto does not implement SQS's StartMessageMoveTask, so a redrive moves the messages itself: each one is sent
to the queue it came from (its redrive source; for FIFO with its group and deduplication ids) and deleted.
A destination queue has no source to go back to and cannot be redriven.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.stack import Stack

__all__ = ["DeadLetterQueues"]


@dataclass(frozen=True)
class DeadLetterQueue:
    logical_id: str
    name: str
    url: str
    source_urls: tuple[str, ...]  # the queues whose redrive policy points here


class DeadLetterQueues:
    def __init__(self, stack: Stack, client: Callable[[str], Any], destination_arns: list[str]) -> None:
        self._client = client
        queues = {logical_id: stack.properties(logical_id) for logical_id in stack.of_type("AWS::SQS::Queue")}
        arns = {logical_id: str(stack.get_att(logical_id, "Arn")) for logical_id in queues}
        sources: dict[str, list[str]] = {}
        for logical_id, properties in queues.items():
            target = (properties.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
            if target:
                sources.setdefault(str(target), []).append(stack.ref(logical_id))
        self.queues = {}
        for logical_id, arn in arns.items():
            if arn in sources or arn in destination_arns:
                name = arn.rsplit(":", 1)[-1]
                self.queues[name] = DeadLetterQueue(
                    logical_id, name, stack.ref(logical_id), tuple(sources.get(arn, ()))
                )

    def depths(self) -> list[dict[str, Any]]:
        sqs = self._client("sqs")
        rows = []
        for queue in self.queues.values():
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue.url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            rows.append(
                {
                    "name": queue.name,
                    "logical_id": queue.logical_id,
                    "depth": int(attributes.get("ApproximateNumberOfMessages", 0)),
                    "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    "redrivable": len(queue.source_urls) == 1,
                }
            )
        return rows

    def redrive(self, name: str) -> int:
        """Move every visible message of dead-letter queue `name` back to its source queue; how many moved."""
        queue = self.queues.get(name)
        if queue is None or len(queue.source_urls) != 1:
            raise KeyError(f"{name} is not a dead-letter queue with one source queue")
        source = queue.source_urls[0]
        sqs = self._client("sqs")
        moved = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not messages:
                return moved
            for message in messages:
                request: dict[str, Any] = {"QueueUrl": source, "MessageBody": message["Body"]}
                if message.get("MessageAttributes"):
                    request["MessageAttributes"] = message["MessageAttributes"]
                attributes = message.get("Attributes", {})
                if source.endswith(".fifo"):
                    request["MessageGroupId"] = attributes.get("MessageGroupId", "redrive")
                    request["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"
                sqs.send_message(**request)
                sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
