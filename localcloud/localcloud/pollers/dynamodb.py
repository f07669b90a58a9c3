"""DynamoDB Streams event source: records in Lambda's shape, read shard by shard from moto."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from localcloud.pollers.streams import FETCH_LIMIT, StreamRecord, StreamShardPoller

__all__ = ["DynamoDBStreamPoller", "lambda_attribute_value"]


def lambda_attribute_value(value: Any) -> Any:
    """boto3 decodes binary attributes to bytes; the Lambda event carries them as base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: lambda_attribute_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lambda_attribute_value(item) for item in value]
    return value


class DynamoDBStreamPoller(StreamShardPoller):
    def __init__(
        self, *args: Any, starting_position: str, resume_after: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.checkpoint = resume_after
        where: dict[str, str] = {"ShardIteratorType": starting_position}
        if resume_after is not None:
            where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": resume_after}
        self._streams = self.context.client("dynamodbstreams")
        self._iterator: str | None = self._streams.get_shard_iterator(
            StreamArn=self.settings.stream_arn,
            ShardId=self.settings.shard_id,
            **where,
        )["ShardIterator"]

    @staticmethod
    def shard_ids(client: Any, stream_arn: str) -> list[str]:
        description = client.describe_stream(StreamArn=stream_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def fetch(self) -> list[StreamRecord]:
        if self._iterator is None:
            return []
        response = self._streams.get_records(ShardIterator=self._iterator, Limit=FETCH_LIMIT)
        self._iterator = response.get("NextShardIterator")
        return [self._record(raw) for raw in response["Records"]]

    def _record(self, raw: dict[str, Any]) -> StreamRecord:
        dynamodb = lambda_attribute_value(dict(raw["dynamodb"]))
        created = raw["dynamodb"].get("ApproximateCreationDateTime")
        arrival = created.timestamp() if isinstance(created, datetime) else float(created or 0)
        dynamodb["ApproximateCreationDateTime"] = int(arrival)
        event = {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": raw.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": raw.get("awsRegion", self.context.region),
            "dynamodb": dynamodb,
            "eventSourceARN": self.settings.stream_arn,
        }
        return StreamRecord(event, dynamodb["SequenceNumber"], arrival)
