"""Where read models live: one row per aggregate, carrying the last version applied to it. A projector writes
a row only if it still holds the version the projector started from; a rebuild writes a row only if it is
absent or older. Both rules make concurrent writers safe. In memory for tests, DynamoDB for real."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from eventcore.errors import EventCoreError, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

View = dict[str, Any]

VERSION_ATTRIBUTE = "version"
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25


@dataclass(frozen=True, slots=True)
class ViewIndex:
    """A secondary index of a view: the rows of one `partition` value, ordered by `sort` (compared as text).
    A position in it names the row's key, partition and sort values, as DynamoDB's LastEvaluatedKey does."""

    name: str
    partition: str
    sort: str


@dataclass(frozen=True, slots=True)
class ViewPage:
    """One page of an index: the documents (as the index projects them, with `version`), and where the next
    page starts (None when this was the last one)."""

    documents: list[View]
    next_position: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class ViewRow:
    """A read model's row: the projection's document and the version of the last event applied to it."""

    view: View
    version: int


class ViewConflictError(EventCoreError):
    """Another writer changed the row since it was read. `current` is the row now stored, when known."""

    def __init__(self, key: str, expected_version: int, current: ViewRow | None) -> None:
        found = "absent" if current is None else f"at version {current.version}"
        super().__init__(f"view row {key!r} expected at version {expected_version}, found {found}")
        self.key = key
        self.expected_version = expected_version
        self.current = current


class ViewStore(Protocol):
    def get_many(self, keys: Sequence[str]) -> dict[str, ViewRow]:
        """The rows that exist among `keys`, read consistently."""
        ...

    def get(self, key: str) -> ViewRow | None:
        """One row, read eventually consistently (what a query answers from), or None."""
        ...

    def page(
        self,
        index: ViewIndex,
        value: str,
        *,
        limit: int,
        after: Mapping[str, str] | None = None,
        oldest_first: bool = False,
    ) -> ViewPage:
        """Up to `limit` documents of `index` whose partition is `value`, newest (greatest sort) first or
        `oldest_first`, starting after the position `after` (a page's `next_position`)."""
        ...

    def put(self, key: str, row: ViewRow, *, expected_version: int) -> None:
        """Write `row` if the stored row is at `expected_version` (0: absent); else `ViewConflictError`."""
        ...

    def put_if_newer(self, rows: Mapping[str, ViewRow]) -> int:
        """Write each row unless the stored one is at the same or a later version; return how many were."""
        ...


class InMemoryViewStore:
    """The view store contract in a dict, for unit and property tests."""

    def __init__(self, key_attribute: str = "id") -> None:
        self.key_attribute = key_attribute
        self.rows: dict[str, ViewRow] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, ViewRow]:
        with self._lock:
            return {key: self.rows[key] for key in keys if key in self.rows}

    def get(self, key: str) -> ViewRow | None:
        with self._lock:
            return self.rows.get(key)

    def page(
        self,
        index: ViewIndex,
        value: str,
        *,
        limit: int,
        after: Mapping[str, str] | None = None,
        oldest_first: bool = False,
    ) -> ViewPage:
        with self._lock:
            entries = sorted(
                (
                    (
                        (str(row.view[index.sort]), key),
                        {**row.view, self.key_attribute: key, VERSION_ATTRIBUTE: row.version},
                    )
                    for key, row in self.rows.items()
                    if row.view.get(index.partition) == value and index.sort in row.view
                ),
                key=lambda entry: entry[0],
                reverse=not oldest_first,
            )
        if after is not None:
            start = (after[index.sort], after[self.key_attribute])
            entries = [entry for entry in entries if (entry[0] > start if oldest_first else entry[0] < start)]
        page = entries[:limit]
        more = len(entries) > limit
        last = page[-1][1] if more else None
        position = _position(index, self.key_attribute, last) if last is not None else None
        return ViewPage([document for _, document in page], position)

    def put(self, key: str, row: ViewRow, *, expected_version: int) -> None:
        with self._lock:
            self.writes += 1
            current = self.rows.get(key)
            if (current.version if current else 0) != expected_version:
                raise ViewConflictError(key, expected_version, current)
            self.rows[key] = row

    def put_if_newer(self, rows: Mapping[str, ViewRow]) -> int:
        written = 0
        with self._lock:
            for key, row in rows.items():
                self.writes += 1
                current = self.rows.get(key)
                if current is None or current.version < row.version:
                    self.rows[key] = row
                    written += 1
        return written


def _position(index: ViewIndex, key_attribute: str, document: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(document[name]) for name in (index.partition, index.sort, key_attribute)}


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(document: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in document.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain JSON-able Python: integral numbers come back as int, not Decimal."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    match value:
        case Decimal():
            return int(value) if value == value.to_integral_value() else float(value)
        case dict():
            return {k: _plain(v) for k, v in value.items()}
        case list() | tuple():
            return [_plain(v) for v in value]
        case set():
            return sorted(_plain(v) for v in value)
    return value


class DynamoDBViewStore:
    """A read model in one DynamoDB table keyed by `key_attribute`; the row's version in `version`."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        key_attribute: str,
        max_attempts: int = 8,
        workers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self.key_attribute = key_attribute
        self._client = client
        self._max_attempts = max_attempts
        self._workers = workers
        self._sleep = sleep

    # -- reading ---------------------------------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, ViewRow]:
        rows: dict[str, ViewRow] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            pending: dict[str, Any] = {
                self.table_name: {
                    "Keys": [
                        {self.key_attribute: {"S": key}} for key in unique[start : start + BATCH_GET_LIMIT]
                    ],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(self._max_attempts):
                response = self._client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    key, row = self._row(item)
                    rows[key] = row
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._backoff(attempt)
            else:
                raise EventCoreError(
                    f"{self.table_name}: keys still unprocessed after {self._max_attempts} tries"
                )
        return rows

    def get(self, key: str) -> ViewRow | None:
        item = self._client.get_item(TableName=self.table_name, Key={self.key_attribute: {"S": key}}).get(
            "Item"
        )
        return self._row(item)[1] if item else None

    def page(
        self,
        index: ViewIndex,
        value: str,
        *,
        limit: int,
        after: Mapping[str, str] | None = None,
        oldest_first: bool = False,
    ) -> ViewPage:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index.name,
            "KeyConditionExpression": "#partition = :value",
            "ExpressionAttributeNames": {"#partition": index.partition},
            "ExpressionAttributeValues": {":value": {"S": value}},
            "ScanIndexForward": oldest_first,
            "Limit": limit + 1,  # one more than asked, to know whether there is a next page
        }
        if after is not None:
            names = (index.partition, index.sort, self.key_attribute)
            request["ExclusiveStartKey"] = {name: {"S": after[name]} for name in names}
        documents = [from_item(item) for item in self._client.query(**request).get("Items", [])]
        page, more = documents[:limit], len(documents) > limit
        return ViewPage(page, _position(index, self.key_attribute, page[-1]) if more else None)

    def _row(self, item: Mapping[str, Any]) -> tuple[str, ViewRow]:
        document = from_item(item)
        version = int(document.pop(VERSION_ATTRIBUTE, 0))
        return str(document[self.key_attribute]), ViewRow(document, version)

    # -- writing ---------------------------------------------------------------------------------------------

    def item(self, key: str, row: ViewRow) -> dict[str, Any]:
        return to_item({**row.view, self.key_attribute: key, VERSION_ATTRIBUTE: row.version})

    def put(self, key: str, row: ViewRow, *, expected_version: int) -> None:
        names = {"#key": self.key_attribute}
        condition = "attribute_not_exists(#key)"
        values: dict[str, Any] = {}
        if expected_version:
            names["#version"] = VERSION_ATTRIBUTE
            condition = "#version = :expected"
            values[":expected"] = {"N": str(expected_version)}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": self.item(key, row),
            # The row is still what this projector started from: nobody applied anything in between.
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {k: v for k, v in names.items() if k in condition},
            # On a lost race the winner's row comes back, so the retry needs no extra read.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**request)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            existing = cast("Mapping[str, Any] | None", exc.response.get("Item"))
            raise ViewConflictError(
                key, expected_version, self._row(existing)[1] if existing else None
            ) from exc

    def put_if_newer(self, rows: Mapping[str, ViewRow]) -> int:
        """One conditional PutItem per row (absent or older only), `workers` at a time. BatchWriteItem takes
        no condition, and TransactWriteItems would cost twice the write units and fail 25 rows for one
        contended row; a conditional put costs what an unconditional one does, and a row that fails its
        condition is simply newer already: the projector got there first."""
        if len(rows) <= 1 or self._workers <= 1:
            return sum(self._put_one_if_newer(key, row) for key, row in rows.items())
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            return sum(pool.map(lambda entry: self._put_one_if_newer(*entry), rows.items()))

    def _put_one_if_newer(self, key: str, row: ViewRow) -> int:
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=self.item(key, row),
                ConditionExpression="attribute_not_exists(#key) OR #version < :version",
                ExpressionAttributeNames={"#key": self.key_attribute, "#version": VERSION_ATTRIBUTE},
                ExpressionAttributeValues={":version": {"N": str(row.version)}},
            )
        except ClientError as exc:  # these puts run on several threads: see error_code
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return 0
        return 1

    def put_all(self, rows: Mapping[str, ViewRow]) -> int:
        """Unconditional writes with BatchWriteItem (25 a request, unprocessed items retried): only for a
        table that no projector writes to yet, e.g. a new generation being filled before it is fed."""
        self._batch_write([{"PutRequest": {"Item": self.item(key, row)}} for key, row in rows.items()])
        return len(rows)

    def clear(self, *, segments: int = 4, progress: Callable[[str], None] = lambda _: None) -> int:
        """Delete every row (a dropped generation): a parallel scan of the keys only, BatchWriteItem deletes
        25 a request. Returns how many rows were deleted."""
        deleted = 0
        lock = threading.Lock()

        def clear_segment(segment: int) -> None:
            nonlocal deleted
            pages = self._client.get_paginator("scan").paginate(
                TableName=self.table_name,
                Segment=segment,
                TotalSegments=segments,
                ProjectionExpression="#key",
                ExpressionAttributeNames={"#key": self.key_attribute},
            )
            for page in pages:
                keys = [{"DeleteRequest": {"Key": item}} for item in page.get("Items", [])]
                if not keys:
                    continue
                self._batch_write(keys)
                with lock:
                    deleted += len(keys)
                    progress(f"{self.table_name}: {deleted} rows deleted so far")

        with ThreadPoolExecutor(max_workers=segments) as pool:
            list(pool.map(clear_segment, range(segments)))
        return deleted

    def _batch_write(self, entries: list[dict[str, Any]]) -> None:
        for start in range(0, len(entries), BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.table_name: entries[start : start + BATCH_WRITE_LIMIT]}
            for attempt in range(self._max_attempts):
                response = self._client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._backoff(attempt)
            else:
                raise EventCoreError(
                    f"{self.table_name}: items still unprocessed after {self._max_attempts} tries"
                )

    def is_empty(self) -> bool:
        return not self._client.scan(TableName=self.table_name, Limit=1, Select="COUNT").get("Count")

    def _backoff(self, attempt: int) -> None:
        self._sleep(min(0.05 * 2**attempt, 2.0))
