"""Which region is active, in a stack replicated across two regions (docs/failover.md): one item in a small
table replicated with multi-Region strong consistency, read with a strongly consistent read and kept by a
warm container for a few seconds. Only the active region takes commands and acts; the standby serves reads
from its own views and keeps them current, refuses commands (`RegionPassiveError`: 503 with `Retry-After`
on the API), holds its command consumers' batches (failed, delivered again later), and its process manager
records what it hears but sends nothing (`SentOnlyWhenActive`). A stack deployed in one region has no such
table and is always active.

The record is written by the operator's promotion (`python -m ops failover`), never by a function:
`promote` is the one conditional write that moves it."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from eventcore.errors import EventCoreError, error_code

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from eventcore.messaging.command_sender import CommandSender, OutgoingCommand

ACTIVE_REGION_TABLE = "ACTIVE_REGION_TABLE"  # empty or absent: a stack in one region, always active
ACTIVE_REGION_CACHE_SECONDS = "ACTIVE_REGION_CACHE_SECONDS"
DEFAULT_CACHE_SECONDS = 5.0
RECORD_KEY = "active-region"


class RegionPassiveError(EventCoreError):
    """This region is the standby: it takes no command and acts on nothing until it is promoted."""

    def __init__(self, region: str, active: str | None, retry_after: int) -> None:
        where = f"region {active} is active" if active else "no region is active yet"
        super().__init__(f"region {region} is the standby ({where}): commands are refused until a promotion")
        self.region = region
        self.active = active
        self.retry_after = retry_after


class PromotionRefusedError(EventCoreError):
    """A promotion that would promote a region twice, or move the record from a region it no longer names."""


@dataclass(frozen=True, slots=True)
class ActiveRecord:
    region: str | None
    epoch: int = 0  # how many promotions the record has seen: each one moves it from the epoch it read
    since: str | None = None


class ActiveRegionTable:
    """The record itself: read strongly consistent, moved by one conditional write."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self.table = table
        self.client = client

    def read(self) -> ActiveRecord:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": RECORD_KEY}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return ActiveRecord(None)
        return ActiveRecord(
            region=item["region"]["S"], epoch=int(item["epoch"]["N"]), since=item.get("since", {}).get("S")
        )

    def promote(self, region: str, *, seen: ActiveRecord, at: datetime | None = None) -> ActiveRecord:
        """Make `region` the active one, only if the record is still what `seen` read: a second promotion, or
        a promotion racing another one, finds the record moved and is refused."""
        if seen.region == region:
            raise PromotionRefusedError(
                f"region {region} is already the active region (since {seen.since}, promotion {seen.epoch}): "
                "nothing to promote"
            )
        since = (at or datetime.now(UTC)).isoformat()
        after = ActiveRecord(region, seen.epoch + 1, since)
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": RECORD_KEY},
            "region": {"S": region},
            "epoch": {"N": str(after.epoch)},
            "since": {"S": since},
        }
        try:
            if seen.region is None:  # a first promotion: the record is still absent
                self.client.put_item(
                    TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
                )
            else:  # the record is still at the epoch read
                self.client.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="#epoch = :epoch",
                    ExpressionAttributeNames={"#epoch": "epoch"},
                    ExpressionAttributeValues={":epoch": {"N": str(seen.epoch)}},
                )
        except ClientError as error:
            if error_code(error) in ("ConditionalCheckFailedException", "ReplicatedWriteConflictException"):
                raise PromotionRefusedError(
                    f"the active-region record changed while promoting {region} (another promotion?): "
                    "read it again with `python -m ops failover --status` and decide again"
                ) from error
            raise
        return after


class ActiveRegion:
    """What a function asks before it takes a command or acts: is this region the active one? The answer is
    kept `cache_seconds` per container, so a promotion is seen everywhere within that time (plus a
    request's own duration)."""

    def __init__(
        self,
        region: str,
        table: ActiveRegionTable | None,
        *,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.region = region
        self.table = table
        self.cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._known: tuple[float, ActiveRecord] | None = None

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, client: DynamoDBClient | None = None
    ) -> ActiveRegion:
        env = os.environ if environ is None else environ
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "local"
        table_name = env.get(ACTIVE_REGION_TABLE, "")
        if not table_name:
            return cls(region, None)
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        cache = float(env.get(ACTIVE_REGION_CACHE_SECONDS) or DEFAULT_CACHE_SECONDS)
        return cls(region, ActiveRegionTable(table_name, client), cache_seconds=cache)

    @property
    def replicated(self) -> bool:
        return self.table is not None

    def record(self) -> ActiveRecord:
        if self.table is None:
            return ActiveRecord(self.region)
        now = self._monotonic()
        with self._lock:
            if self._known is not None and now - self._known[0] < self.cache_seconds:
                return self._known[1]
        record = self.table.read()
        with self._lock:
            self._known = (now, record)
        return record

    def is_active(self) -> bool:
        return self.record().region == self.region

    def require_active(self) -> None:
        """Raise `RegionPassiveError` unless this region is the active one."""
        record = self.record()
        if record.region != self.region:
            raise RegionPassiveError(self.region, record.region, retry_after=max(1, int(self.cache_seconds)))


class SentOnlyWhenActive:
    """A command sender that sends only in the active region. The process manager of the standby hears the
    replicated logs' facts and records what it decides (in the replicated log, under the same derived ids
    as the active region's: whichever writes first, the other finds it done), but sends nothing: the
    promotion sends again what every process in flight recorded (`python -m ops failover`)."""

    def __init__(self, sender: CommandSender, region: Callable[[], ActiveRegion] | None = None) -> None:
        self._sender = sender
        self._region = region or active_region

    def send(self, commands: Sequence[OutgoingCommand]) -> None:
        if commands and self._region().is_active():
            self._sender.send(commands)


_built: dict[tuple[str, str], ActiveRegion] = {}
_override: ActiveRegion | None = None
_current_lock = threading.Lock()


def active_region() -> ActiveRegion:
    """This container's view of the active region, built from its environment on first use (a container's
    environment does not change; a test's may, so the view is kept per region and table)."""
    with _current_lock:
        if _override is not None:
            return _override
        key = (os.environ.get("AWS_REGION", ""), os.environ.get(ACTIVE_REGION_TABLE, ""))
        if key not in _built:
            _built[key] = ActiveRegion.from_environment()
        return _built[key]


def reset_active_region(region: ActiveRegion | None = None) -> None:
    """For tests (and a drill running two regions in one process): this view of the active region, until
    reset with None."""
    global _override
    with _current_lock:
        _override = region
        _built.clear()
