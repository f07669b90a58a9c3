"""Kinesis event source: records in Lambda's shape (data in base64), read shard by shard from moto."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from localcloud.pollers.streams import FETCH_LIMIT, StreamRecord, StreamShardPoller

__all__ = ["KinesisPoller"]


class KinesisPoller(StreamShardPoller):
    def __init__(
        self, *args: Any, starting_position: str, resume_after: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.checkpoint = resume_after
        where: dict[str, str] = {"ShardIteratorType": starting_position}
        if resume_after is not None:
            where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": resume_after}
        self._kinesis = self.context.client("kinesis")
        self._iterator: str | None = self._kinesis.get_shard_iterator(
            # By name: moto's iterators made from a StreamARN lose the stream (it then answers "Stream None").
            StreamName=self.settings.stream_arn.rsplit("/", 1)[-1],
            ShardId=self.settings.shard_id,
            **where,
        )["ShardIterator"]

    @staticmethod
    def shard_ids(client: Any, stream_arn: str) -> list[str]:
        return [
            shard["ShardId"]
            for shard in client.list_shards(StreamName=stream_arn.rsplit("/", 1)[-1])["Shards"]
        ]

    def fetch(self) -> list[StreamRecord]:
        if self._iterator is None:
            return []
        response = self._kinesis.get_records(ShardIterator=self._iterator, Limit=FETCH_LIMIT)
        self._iterator = response.get("NextShardIterator")
        return [self._record(raw) for raw in response["Records"]]

    def _record(self, raw: dict[str, Any]) -> StreamRecord:
        arrived = raw["ApproximateArrivalTimestamp"]
        arrival = arrived.timestamp() if isinstance(arrived, datetime) else float(arrived)
        event = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw["PartitionKey"],
                "sequenceNumber": raw["SequenceNumber"],
                "data": base64.b64encode(raw["Data"]).decode(),
                "approximateArrivalTimestamp": round(arrival, 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{self.settings.shard_id}:{raw['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"{self.settings.function_arn}-role",
            "awsRegion": self.context.region,
            "eventSourceARN": self.settings.stream_arn,
        }
        return StreamRecord(event, raw["SequenceNumber"], arrival)
