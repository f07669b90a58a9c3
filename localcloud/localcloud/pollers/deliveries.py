"""Asynchronous invocations (SNS, EventBridge rules, schedules), with Lambda's async retry semantics.

Each asynchronous source reaches its function through a delivery queue of the local cloud's own in moto:
moto fans SNS messages out to it (filter policies applied) and EventBridge puts matching events on it
(InputTransformer applied); the scheduler puts scheduled events on it. A message is one event: invoked once,
retried after a delay on an error (twice, or MaximumRetryAttempts), then handed to the function's on-failure
destination or dead-letter queue and dropped, as Lambda does with an event queued for async invocation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.pollers.base import Poller
from localcloud.template import ACCOUNT_ID

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.pollers.base import PollerContext
    from localcloud.workers import Invocation

__all__ = ["RETRY_DELAYS_SECONDS", "AsyncDeliveryPoller"]

# Lambda waits about 1 and then 2 minutes between attempts; locally seconds, so that retries can be watched.
RETRY_DELAYS_SECONDS = (1, 2)


class AsyncDeliveryPoller(Poller):
    def __init__(
        self,
        context: PollerContext,
        queue_url: str,
        trigger: str,
        key: str,
        shape: Callable[[str], Any],
        max_retries: int = 2,
        on_failure: Callable[[Any, Invocation, int], None] | None = None,
    ) -> None:
        super().__init__(context, name=f"{context.runtime.name}:{key}")
        self.queue_url = queue_url
        self.trigger = trigger
        self.key = key
        self._shape = shape
        self.max_retries = max_retries
        self._on_failure = on_failure
        self._sqs = context.client("sqs")

    @property
    def lag(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0))

    def poll_once(self) -> bool:
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            VisibilityTimeout=max(int(self.context.runtime.timeout) + 1, 2),
            WaitTimeSeconds=0,
        ).get("Messages", [])
        for message in messages:
            if self.stopping.is_set():
                return False
            self._deliver(message)
        return bool(messages)

    def _deliver(self, message: dict[str, Any]) -> None:
        event = self._shape(message["Body"])
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        invocation = self.context.runtime.invoke(event, self.trigger)
        if not invocation.ok:
            invocation.note = f"attempt {attempt} of {self.max_retries + 1}"
        self.context.report(invocation)
        if not invocation.ok and attempt <= self.max_retries:
            delay = RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS)) - 1]
            self._sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=delay
            )
            return
        if not invocation.ok and self._on_failure is not None:
            self._on_failure(event, invocation, attempt)
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def sns_record(subscription_arn: str) -> Callable[[str], dict[str, Any]]:
    """An SNS notification (as SNS puts it on a queue) to the event Lambda gets from the subscription."""

    def shape(body: str) -> dict[str, Any]:
        notification = json.loads(body)
        attributes = notification.get("MessageAttributes") or {}
        return {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": subscription_arn,
                    "Sns": {
                        "Type": notification.get("Type", "Notification"),
                        "MessageId": notification["MessageId"],
                        "TopicArn": notification["TopicArn"],
                        "Subject": notification.get("Subject"),
                        "Message": notification["Message"],
                        "Timestamp": notification["Timestamp"],
                        "SignatureVersion": notification.get("SignatureVersion", "1"),
                        "Signature": notification.get("Signature", "EXAMPLE"),
                        "SigningCertUrl": notification.get("SigningCertURL", "EXAMPLE"),
                        "UnsubscribeUrl": notification.get("UnsubscribeURL", "EXAMPLE"),
                        "MessageAttributes": {
                            name: {"Type": value.get("Type"), "Value": value.get("Value")}
                            for name, value in attributes.items()
                        },
                    },
                }
            ]
        }

    return shape


def eventbridge_input(target: dict[str, Any]) -> Callable[[str], Any]:
    """What an EventBridge target with `Input` or `InputPath` passes on (the event itself by default)."""

    def shape(body: str) -> Any:
        event = json.loads(body)
        if "InputTransformer" not in target and isinstance(event, dict):
            event = _eventbridge_event(event)
        if "Input" in target:
            return json.loads(target["Input"])
        if "InputPath" in target:
            return json_path(event, target["InputPath"])
        return event

    return shape


EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def _eventbridge_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event in EventBridge's own field order, with the `account` moto's default template leaves out."""
    event = {**event, "account": event.get("account") or ACCOUNT_ID}
    return {name: event[name] for name in EVENT_FIELDS if name in event}


def json_path(document: Any, path: str) -> Any:
    """The simple JSONPath EventBridge allows in InputPath: `$`, `$.a.b`, `$.a[0]`."""
    value = document
    for part in path.lstrip("$").replace("[", ".").replace("]", "").split("."):
        if not part:
            continue
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def async_failure_record(
    function_arn: str, event: Any, invocation: Invocation, attempts: int
) -> dict[str, Any]:
    """What Lambda sends to an async invocation's on-failure destination."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": invocation.error,
    }
