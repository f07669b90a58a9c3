"""The stack's event source mappings: each `AWS::Lambda::EventSourceMapping` (SAM's DynamoDB, Kinesis and
SQS events) read with every property, as one poller per shard or queue with Lambda's batching, partial batch
responses, bisection, retries, record age, on-failure destination and filters; and the destinations Lambda
sends failures to: SQS and SNS (the invocation record), and for stream sources S3 (the invocation record with
the batch itself, as Lambda writes it: an object per discarded batch). The asynchronous sources are in
`async_sources.py`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.filters import RecordFilter
from localcloud.motoserver import resource_name
from localcloud.pollers import DynamoDBStreamPoller, KinesisPoller, Poller, PollerContext, SQSPoller
from localcloud.pollers.streams import SendFailure, StreamSettings
from localcloud.template import STACK_NAME

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.functions import Functions
    from localcloud.motoserver import WriteSignal
    from localcloud.stack import Stack
    from localcloud.workers import Invocation

__all__ = ["Triggers", "failure_object_key", "mapping_notes", "mapping_uuid"]

S3_ARN_PREFIX = "arn:aws:s3:::"

# What the pollers emulate of an event source mapping's properties.
EMULATED_PROPERTIES = frozenset(
    {
        "EventSourceArn",
        "FunctionName",
        "Enabled",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "StartingPosition",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "FunctionResponseTypes",
        "FilterCriteria",
        "DestinationConfig",
    }
)
# What they ignore knowingly, and why what the functions see is still what Lambda may do.
IGNORED_PROPERTIES = {
    # Lambda runs up to N batches of a shard at once, keeping order per partition key (Kinesis) or per item
    # (DynamoDB); one batch at a time keeps every order those do, and more.
    "ParallelizationFactor": "one batch per shard at a time, which keeps every order Lambda keeps",
    # At most two workers per function: below any MaximumConcurrency (2 to 1,000).
    "ScalingConfig": "a function runs on at most two workers, under any MaximumConcurrency",
    "Tags": "no effect on delivery",
    "MetricsConfig": "no effect on delivery",
    "KmsKeyArn": "no effect on delivery (filter criteria are kept in memory)",
}


def mapping_notes(logical_id: str, properties: dict[str, Any]) -> list[str]:
    """What the local cloud says once about a mapping's properties it does not emulate and does not know to
    be harmless (a tumbling window, a starting timestamp): each is ignored, so what the function sees may
    differ from Lambda's. The known harmless ones (`IGNORED_PROPERTIES`) are ignored without a word."""
    unknown = sorted(set(properties) - EMULATED_PROPERTIES - set(IGNORED_PROPERTIES))
    return [f"[localcloud] {logical_id}: {name} is not emulated; ignored" for name in unknown]


def mapping_uuid(logical_id: str) -> str:
    """An event source mapping's UUID: Lambda makes a random one; locally it is derived from the logical id,
    so that it (and the S3 keys it is part of) stays the same across restarts."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"localcloud:{STACK_NAME}:{logical_id}"))


def failure_object_key(mapping: str, shard_id: str, timestamp: str) -> str:
    """Where Lambda puts a discarded batch in an S3 on-failure destination, from the record's timestamp:
    `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`."""
    at = datetime.fromisoformat(timestamp)
    return f"aws/lambda/{mapping}/{shard_id}/{at:%Y/%m/%d}/{at:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"


class Triggers:
    """The pollers and schedules of one stack, built once its resources exist in moto."""

    def __init__(
        self,
        stack: Stack,
        functions: Functions,
        client: Callable[[str], Any],
        signal: WriteSignal,
        report: Callable[[Invocation], None],
        say: Callable[[str], None],
        poll_interval: float,
    ) -> None:
        self._stack = stack
        self.functions = functions
        self.client = client
        self._signal = signal
        self._report = report
        self._say = say
        self._poll_interval = poll_interval

    def context(self, function_arn: str, source: str) -> PollerContext | None:
        runtime = self.functions.by_arn(function_arn)
        if runtime is None:
            return None
        return PollerContext(
            runtime=runtime,
            client=self.client,
            signal=self._signal,
            report=self._report,
            region=self._stack.region,
            poll_interval=self._poll_interval,
            source=source,
        )

    # ----- event source mappings -----

    def mapping_pollers(self, positions: dict[str, str]) -> list[Poller]:
        """A poller per shard or queue of each enabled event source mapping; streams resume at `positions`."""
        pollers: list[Poller] = []
        for logical_id in self._stack.of_type("AWS::Lambda::EventSourceMapping"):
            properties = self._stack.properties(logical_id)
            if properties.get("Enabled", True) is False:
                continue
            for note in mapping_notes(logical_id, properties):
                self._say(note)
            source_arn = str(properties["EventSourceArn"])
            function = str(properties["FunctionName"])
            function_arn = function if function.startswith("arn:") else self._function_arn_of(function)
            context = self.context(function_arn, resource_name(source_arn))
            if context is None:
                self._say(f"[localcloud] {logical_id}: function {function} does not run locally; skipped")
                continue
            service = source_arn.split(":")[2]
            if service == "sqs":
                pollers.append(self._sqs_poller(logical_id, properties, context, source_arn))
            elif service in ("dynamodb", "kinesis"):
                pollers.extend(self._stream_pollers(logical_id, properties, context, source_arn, positions))
            else:
                self._say(f"[localcloud] {logical_id}: {service} event sources are not emulated; skipped")
        return pollers

    def _function_arn_of(self, name: str) -> str:
        runtime = self.functions.find(name)
        spec = next(spec for spec in self.functions.specs.values() if spec.name == runtime.name)
        return spec.arn

    def _sqs_poller(
        self, logical_id: str, properties: dict[str, Any], context: PollerContext, queue_arn: str
    ) -> Poller:
        poller = SQSPoller(
            context,
            queue_arn,
            RecordFilter(properties.get("FilterCriteria"), "sqs"),
            f"sqs {queue_arn.rsplit(':', 1)[-1]}",
            int(properties.get("BatchSize", 10)),
            float(properties.get("MaximumBatchingWindowInSeconds", 0)),
            "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
        )
        poller.key = logical_id
        return poller

    def _stream_pollers(
        self,
        logical_id: str,
        properties: dict[str, Any],
        context: PollerContext,
        arn: str,
        positions: dict[str, str],
    ) -> list[Poller]:
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        send_failure = self.stream_failure_sender(str(destination), logical_id) if destination else None
        poller_type: type[DynamoDBStreamPoller | KinesisPoller]
        if ":dynamodb:" in arn:
            poller_type, source, info_key = DynamoDBStreamPoller, "dynamodb", "DDBStreamBatchInfo"
            client = self.client("dynamodbstreams")
            trigger = f"ddb-stream {arn.split(':table/')[-1].split('/')[0]}"
        else:
            poller_type, source, info_key = KinesisPoller, "kinesis", "KinesisBatchInfo"
            client = self.client("kinesis")
            trigger = f"kinesis {arn.rsplit('/', 1)[-1]}"
        function_arn = next(
            spec.arn for spec in self.functions.specs.values() if spec.name == context.runtime.name
        )
        pollers: list[Poller] = []
        for shard_id in poller_type.shard_ids(client, arn):
            settings = StreamSettings(
                function_arn=function_arn,
                stream_arn=arn,
                shard_id=shard_id,
                batch_info_key=info_key,
                batch_size=int(properties.get("BatchSize", 100)),
                batching_window=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
                bisect=bool(properties.get("BisectBatchOnFunctionError", False)),
                max_retries=int(properties.get("MaximumRetryAttempts", -1)),
                max_record_age=float(properties.get("MaximumRecordAgeInSeconds", -1)),
                report_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            )
            key = f"{logical_id}/{shard_id}"
            poller = poller_type(
                context,
                settings,
                RecordFilter(properties.get("FilterCriteria"), source),
                send_failure,
                trigger,
                starting_position=str(properties.get("StartingPosition", "LATEST")),
                resume_after=positions.get(key),
            )
            poller.key = key
            pollers.append(poller)
        return pollers

    # ----- destinations -----

    def stream_failure_sender(self, destination_arn: str, logical_id: str) -> SendFailure:
        """Where a stream mapping's discarded batches go. S3: one object per batch, the invocation record with
        the batch as `payload` (the event as the function was invoked with it, as a JSON string); SQS and SNS:
        the invocation record alone."""
        if not destination_arn.startswith(S3_ARN_PREFIX):
            send = self.sender(destination_arn)
            return lambda record, event: send(record)
        bucket = destination_arn.removeprefix(S3_ARN_PREFIX).split("/", 1)[0]
        mapping = mapping_uuid(logical_id)

        def put_object(record: dict[str, Any], event: dict[str, Any]) -> None:
            info = next(value for key, value in record.items() if key.endswith("BatchInfo"))
            self.client("s3").put_object(
                Bucket=bucket,
                Key=failure_object_key(mapping, info["shardId"], record["timestamp"]),
                Body=json.dumps({**record, "payload": json.dumps(event)}).encode(),
                ContentType="application/json",
            )

        return put_object

    def sender(self, destination_arn: str) -> Callable[..., None]:
        """Send a record to an SQS queue or SNS topic, as Lambda's destinations and dead-letter queues do."""
        service = destination_arn.split(":")[2]

        def send(record: Any, attributes: dict[str, str] | None = None) -> None:
            body = json.dumps(record)
            message_attributes = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in (attributes or {}).items()
            }
            if service == "sqs":
                sqs = self.client("sqs")
                url = sqs.get_queue_url(QueueName=destination_arn.rsplit(":", 1)[-1])["QueueUrl"]
                sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=message_attributes)
            elif service == "sns":
                self.client("sns").publish(
                    TopicArn=destination_arn, Message=body, MessageAttributes=message_attributes
                )
            else:
                self._say(f"[localcloud] destination {destination_arn} is not supported")

        return send
