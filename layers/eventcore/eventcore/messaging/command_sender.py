"""Commands leaving a context for other contexts' queues: each one addressed to a queue by the name the
consumer's configuration gives it, in its FIFO message group (one writer per aggregate) or with a delay (a
deadline). A consumer sends what its decision recorded only after the decision is in its log, and sends the
same again when the input is redelivered: the command ids, derived from the causing event, make the
repeats harmless (SQS deduplicates them for five minutes, the receiving log after that)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from eventcore.errors import EventCoreError
from eventcore.messaging.inbound import deduplication_id

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

    from eventcore.messaging.inbound import CommandMessage

SEND_BATCH_LIMIT = 10
MAX_DELAY_SECONDS = 900  # SQS's longest message delay


@dataclass(frozen=True, slots=True)
class OutgoingCommand:
    """A command for the queue named `queue`. A FIFO queue needs `group_id`; a standard one may take a
    `delay_seconds` (at most 900)."""

    queue: str
    message: CommandMessage
    group_id: str | None = None
    delay_seconds: int = 0


class CommandSender(Protocol):
    def send(self, commands: Sequence[OutgoingCommand]) -> None:
        """Send every command, or raise (the caller's input is then retried, and everything sent again)."""
        ...


class UndeliveredCommandsError(EventCoreError):
    """SQS refused some of the commands (throttled, or a queue gone): the input must be retried."""


class SqsCommandSender:
    """Sends commands with SendMessageBatch, up to ten a request per queue."""

    def __init__(self, client: SQSClient, queue_urls: Mapping[str, str]) -> None:
        self._client = client
        self._urls = dict(queue_urls)

    def send(self, commands: Sequence[OutgoingCommand]) -> None:
        by_queue: dict[str, list[OutgoingCommand]] = {}
        for command in commands:
            by_queue.setdefault(command.queue, []).append(command)
        for queue, queued in by_queue.items():
            url = self._urls.get(queue)
            if url is None:
                raise UndeliveredCommandsError(
                    f"no queue URL configured for {queue!r}; known: {sorted(self._urls)}"
                )
            for start in range(0, len(queued), SEND_BATCH_LIMIT):
                self._send_batch(queue, url, queued[start : start + SEND_BATCH_LIMIT])

    def _send_batch(self, queue: str, url: str, commands: Sequence[OutgoingCommand]) -> None:
        entries: list[SendMessageBatchRequestEntryTypeDef] = []
        for index, command in enumerate(commands):
            entry: SendMessageBatchRequestEntryTypeDef = {
                "Id": str(index),
                "MessageBody": command.message.model_dump_json(),
            }
            if command.group_id is not None:
                entry["MessageGroupId"] = command.group_id
                entry["MessageDeduplicationId"] = deduplication_id(command.message.command_id)
            elif command.delay_seconds:
                entry["DelaySeconds"] = min(max(command.delay_seconds, 0), MAX_DELAY_SECONDS)
            entries.append(entry)
        response = self._client.send_message_batch(QueueUrl=url, Entries=entries)
        failed = response.get("Failed") or []
        if failed:
            reasons = "; ".join(f"{f.get('Code')}: {f.get('Message', '')}" for f in failed)
            raise UndeliveredCommandsError(
                f"{len(failed)} of {len(entries)} commands to {queue} not sent: {reasons}"
            )
