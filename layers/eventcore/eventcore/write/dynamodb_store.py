"""The event store on DynamoDB: one item per commit, keyed (stream, version of its first event), written with
one conditional PutItem so exactly one writer wins each version, and never a transaction (a log replicated
across regions with strong consistency refuses them: docs/failover.md). Items are kept in DynamoDB's
low-level JSON
so the same decoding serves table reads and change records (DynamoDB Streams, NEW_IMAGE)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from eventcore.errors import CommitTooLargeError, ConcurrencyError, error_code
from eventcore.write.events import RecordedEvent
from eventcore.write.store import Commit, Member

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ITEM_SIZE_LIMIT = 400 * 1024

Item = dict[str, Any]


def commit_to_item(commit: Commit) -> Item:
    item: Item = {
        "stream": {"S": commit.stream_id},
        "version": {"N": str(commit.version)},
        "last": {"N": str(commit.last_version)},
        "events": {"S": encode_events(commit.events)},
        "command_id": {"S": commit.command_id},
        "fingerprint": {"S": commit.fingerprint},
        "committed_at": {"S": commit.committed_at},
    }
    if commit.correlation_id:
        item["correlation_id"] = {"S": commit.correlation_id}
    if commit.causation_id:
        item["causation_id"] = {"S": commit.causation_id}
    if commit.snapshot is not None:
        item["snapshot"] = {"S": json.dumps(commit.snapshot, separators=(",", ":"))}
    if commit.members:
        members = [[m.command_id, m.fingerprint, m.first_version, m.last_version] for m in commit.members]
        item["members"] = {"S": json.dumps(members, separators=(",", ":"))}
    return item


def encode_events(events: tuple[RecordedEvent, ...]) -> str:
    """The commit's events as one JSON array: one string attribute is smaller than a list of typed maps, and
    far cheaper to (de)serialise for botocore, moto and DynamoDB Streams. Event data is embedded as-is."""
    return (
        "["
        + ",".join(
            f'{{"id":{json.dumps(e.event_id)},"type":{json.dumps(e.event_type)},"schema":{e.schema_version},'
            f'"at":{json.dumps(e.recorded_at)},"data":{e.data}}}'
            for e in events
        )
        + "]"
    )


def decode_events(text: str) -> tuple[RecordedEvent, ...]:
    return tuple(
        RecordedEvent(
            event_id=entry["id"],
            event_type=entry["type"],
            schema_version=entry["schema"],
            data=json.dumps(entry["data"], separators=(",", ":")),
            recorded_at=entry["at"],
        )
        for entry in json.loads(text)
    )


def commit_from_item(item: Item) -> Commit:
    """Decode a commit item, from a table read or a change record's NewImage."""
    snapshot = item.get("snapshot")
    return Commit(
        stream_id=item["stream"]["S"],
        version=int(item["version"]["N"]),
        events=decode_events(item["events"]["S"]),
        command_id=item["command_id"]["S"],
        fingerprint=item["fingerprint"]["S"],
        committed_at=item["committed_at"]["S"],
        correlation_id=item.get("correlation_id", {}).get("S"),
        causation_id=item.get("causation_id", {}).get("S"),
        snapshot=json.loads(snapshot["S"]) if snapshot else None,
        members=tuple(Member(*entry) for entry in json.loads(item["members"]["S"]))
        if "members" in item
        else (),
    )


def item_size(item: Item) -> int:
    """The item's size as DynamoDB counts it against the 400 KB limit (names plus values)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, content),) = value.items()
    match kind:
        case "S":
            return len(content.encode())
        case "B":  # bytes (boto3 decodes the base64 of the wire)
            return len(content)
        case "SS":
            return sum(len(member.encode()) for member in content)
        case "BS":
            return sum(len(member) for member in content)
        case "N":
            return len(content.lstrip("-").replace(".", "")) // 2 + 2
        case "BOOL" | "NULL":
            return 1
        case "L":
            return 3 + sum(1 + _value_size(v) for v in content)
        case "M":
            return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in content.items())
    raise ValueError(f"unsupported attribute type {kind}")


def _within_the_limit(commit: Commit) -> Item:
    """The commit's item; without its snapshot if that is what takes it over the item limit (a snapshot
    saves reads, the facts are what must be written: loads read further back until an earlier snapshot)."""
    item = commit_to_item(commit)
    if item_size(item) > ITEM_SIZE_LIMIT and commit.snapshot is not None:
        item = commit_to_item(replace(commit, snapshot=None))
    size = item_size(item)
    if size > ITEM_SIZE_LIMIT:
        raise CommitTooLargeError(commit.stream_id, size, ITEM_SIZE_LIMIT)
    return item


COMMAND_INDEX = "commands"  # every event log table's index on (stream, command_id): see `find_command`


class DynamoDBEventStore:
    """The event store on one DynamoDB table with key (stream S, version N): `stream` holds the stream id.

    The conditional write refuses a second commit at the same version. It cannot see a commit that would
    start inside another one's versions (that needs a read of another item); the runner never writes one,
    since it appends only right after the last version of a commit it has read or been handed, and
    readers (the runner, projections, time travel) refuse a stream whose commits do not follow each other."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table_name = table_name
        self._client = client

    def append(self, commit: Commit) -> None:
        item = _within_the_limit(commit)
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=item,
                # The one rule of the log: nobody has taken this version yet.
                ConditionExpression="attribute_not_exists(#version)",
                ExpressionAttributeNames={"#version": "version"},
                # On a lost race, hand back the winner's commit so the loser catches up without a read.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            existing = cast("Item | None", exc.response.get("Item"))
            raise ConcurrencyError(
                commit.stream_id, commit.version, commit_from_item(existing) if existing else None
            ) from exc

    def read(self, stream_id: str, *, after: int = 0, up_to: int | None = None) -> Iterator[Commit]:
        condition = "#stream = :stream AND #version > :after"
        values: Item = {":stream": {"S": stream_id}, ":after": {"N": str(after)}}
        if up_to is not None:
            condition = "#stream = :stream AND #version BETWEEN :from AND :up_to"
            values = {
                ":stream": {"S": stream_id},
                ":from": {"N": str(after + 1)},
                ":up_to": {"N": str(up_to)},
            }
        yield from self._query(KeyConditionExpression=condition, ExpressionAttributeValues=values)

    def read_backwards(self, stream_id: str, *, page_size: int) -> Iterator[Commit]:
        yield from self._query(
            KeyConditionExpression="#stream = :stream",
            ExpressionAttributeValues={":stream": {"S": stream_id}},
            ScanIndexForward=False,
            Limit=page_size,
        )

    def find_command(self, stream_id: str, command_id: str) -> Commit | None:
        """One query of the log's command index (COMMAND_INDEX: key (stream, command_id), keys only; a
        global secondary index, so eventually consistent), then the commit itself, read consistently."""
        page = self._client.query(
            TableName=self.table_name,
            IndexName=COMMAND_INDEX,
            KeyConditionExpression="#stream = :stream AND #command = :command",
            ExpressionAttributeNames={"#stream": "stream", "#command": "command_id"},
            ExpressionAttributeValues={":stream": {"S": stream_id}, ":command": {"S": command_id}},
            Limit=1,
        )
        items = page.get("Items", [])
        if not items:
            return None
        version = int(items[0]["version"]["N"])
        return next(
            (c for c in self.read(stream_id, after=version - 1, up_to=version) if c.command_id == command_id),
            None,
        )

    def _query(self, **kwargs: Any) -> Iterator[Commit]:
        names = {"#stream": "stream"}
        if "#version" in kwargs["KeyConditionExpression"]:
            names["#version"] = "version"
        request = {
            "TableName": self.table_name,
            "ConsistentRead": True,
            "ExpressionAttributeNames": names,
            **kwargs,
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                yield commit_from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
