"""Which region is active, in a stack replicated across two regions (docs/failover.md): one item in a small
table replicated with multi-Region strong consistency, read with a strongly consistent read and kept by a
warm container for a few seconds. Only the active region takes commands and acts; the standby serves reads
from its own views and keeps them current, refuses commands (`RegionPassiveError`: 503 with `Retry-After`
on the API), holds its command consumers' batches (failed, delivered again later), and its process manager
records what it hears but sends nothing (`SentOnlyWhenActive`). A stack deployed in one region has no such
table and is always active.

The record is written by the operator (`python -m ops failover`), never by a function, each change one
conditional write on the epoch it read: `promote` makes a region active; a planned move (`--planned`) first
`demote`s the active one to a record that names no active region, only the one it moves to (and, while its
command queues drain, the region left: `draining`), then `stop_draining`, then promotes. While no region is
active, no region takes commands or sends any; only the draining region's command consumers apply what was
already sent to them.

A record that cannot be read (DynamoDB throttling, or unreachable) is no answer: the function refuses as the
standby does (`ActiveRegionUnreadableError`, a `RegionPassiveError`: 503 on the API, the batch held), and
asks again on its next request; it never goes on with a record older than its cache allows."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

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
    """This region is not the active one: it takes no command and acts on nothing until it is promoted.
    `problem` is what a client is told (the 503's message)."""

    def __init__(
        self, region: str, active: str | None, retry_after: int, *, moving_to: str | None = None
    ) -> None:
        if active:
            where = f"region {active} is active"
        elif moving_to:
            where = f"no region is active while a planned move goes to {moving_to}"
        else:
            where = "no region is active yet"
        super().__init__(f"region {region} is the standby ({where}): commands are refused until a promotion")
        self.region = region
        self.active = active
        self.moving_to = moving_to
        self.retry_after = retry_after

    @property
    def problem(self) -> str:
        if self.active is None and self.moving_to:
            return (
                f"No region takes commands while the service moves to {self.moving_to}; "
                "retry after Retry-After seconds."
            )
        return "This region is the standby and takes no commands; retry after Retry-After seconds."


class ActiveRegionUnreadableError(RegionPassiveError):
    """The active-region record could not be read (throttled, or DynamoDB unreachable) once this container's
    cached read had expired: no answer is no permission. Refused like the standby, asked again next time."""

    def __init__(self, region: str, cause: Exception, retry_after: int) -> None:
        EventCoreError.__init__(
            self,
            f"region {region} cannot tell whether it is active (the active-region record could not be read: "
            f"{type(cause).__name__}: {cause}): commands are refused until it can",
        )
        self.region = region
        self.active = None
        self.moving_to = None
        self.retry_after = retry_after
        self.cause = cause

    @property
    def problem(self) -> str:
        return "Which region takes commands cannot be read right now; retry after Retry-After seconds."


class PromotionRefusedError(EventCoreError):
    """A promotion that would promote a region twice, or move the record from a region it no longer names."""


@dataclass(frozen=True, slots=True)
class ActiveRecord:
    """The record as read. `region` None: no region is active, either because none was ever promoted (epoch
    0, no item) or because a planned move is under way (`moving_to` the region it goes to; `draining` the
    region it left, while that region's command consumers still apply what was sent to them)."""

    region: str | None
    epoch: int = 0  # how many changes the record has seen: each one moves it from the epoch it read
    since: str | None = None
    moving_to: str | None = None
    draining: str | None = None


class ActiveRegionTable:
    """The record itself: read strongly consistent, moved by one conditional write per change."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self.table = table
        self.client = client

    def read(self) -> ActiveRecord:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": RECORD_KEY}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return ActiveRecord(None)

        def text(name: str) -> str | None:
            return item.get(name, {}).get("S")

        return ActiveRecord(
            region=text("region"),
            epoch=int(item["epoch"]["N"]),
            since=text("since"),
            moving_to=text("moving_to"),
            draining=text("draining"),
        )

    def promote(self, region: str, *, seen: ActiveRecord, at: datetime | None = None) -> ActiveRecord:
        """Make `region` the active one, only if the record is still what `seen` read: a second promotion, or
        a promotion racing another one, finds the record moved and is refused."""
        if seen.region == region:
            raise PromotionRefusedError(
                f"region {region} is already the active region (since {seen.since}, promotion {seen.epoch}): "
                "nothing to promote"
            )
        return self._write(ActiveRecord(region, seen.epoch + 1, _moment(at)), seen, f"promoting {region}")

    def demote(
        self, to: str, *, seen: ActiveRecord, draining: bool, at: datetime | None = None
    ) -> ActiveRecord:
        """The first step of a planned move to `to`: the active region is active no more, and no region is
        until `to` is promoted. With `draining`, the region left still applies what its command queues
        hold (`ActiveRegion.require_acting`) until `stop_draining`."""
        if seen.region is None:
            raise PromotionRefusedError(f"no region is active to move from (the record: {seen})")
        after = ActiveRecord(
            None, seen.epoch + 1, _moment(at), moving_to=to, draining=seen.region if draining else None
        )
        return self._write(after, seen, f"moving from {seen.region} to {to}")

    def stop_draining(self, *, seen: ActiveRecord, at: datetime | None = None) -> ActiveRecord:
        """A planned move's region left stops applying commands: no region acts at all until the promotion."""
        if seen.moving_to is None:
            raise PromotionRefusedError(f"no planned move is under way (the record: {seen})")
        after = ActiveRecord(None, seen.epoch + 1, _moment(at), moving_to=seen.moving_to)
        return self._write(after, seen, f"ending the drain of {seen.draining}")

    def _write(self, after: ActiveRecord, seen: ActiveRecord, doing: str) -> ActiveRecord:
        """Write `after`, only if the record is still at the epoch `seen` read (absent, for epoch 0)."""
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": RECORD_KEY},
            "epoch": {"N": str(after.epoch)},
            "since": {"S": after.since or ""},
        }
        for name, value in (
            ("region", after.region),
            ("moving_to", after.moving_to),
            ("draining", after.draining),
        ):
            if value is not None:
                item[name] = {"S": value}
        try:
            if seen.epoch == 0:  # nothing written yet: the record is still absent
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
                    f"the active-region record changed while {doing} (another operator?): read it again "
                    "with `python -m ops failover --status` and decide again"
                ) from error
            raise
        return after


def _moment(at: datetime | None) -> str:
    return (at or datetime.now(UTC)).isoformat()


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

    def record(self) -> ActiveRecord:
        """The record as this container knows it: read again once `cache_seconds` old. A failed read raises
        `ActiveRegionUnreadableError` and is not kept: the next call reads again."""
        if self.table is None:
            return ActiveRecord(self.region)
        now = self._monotonic()
        with self._lock:
            if self._known is not None and now - self._known[0] < self.cache_seconds:
                return self._known[1]
        try:
            record = self.table.read()
        except (ClientError, BotoCoreError) as error:
            raise ActiveRegionUnreadableError(self.region, error, self._retry_after) from error
        with self._lock:
            self._known = (now, record)
        return record

    @property
    def _retry_after(self) -> int:
        return max(1, int(self.cache_seconds))

    def is_active(self) -> bool:
        return self.record().region == self.region

    def require_active(self) -> None:
        """Raise `RegionPassiveError` unless this region is the active one (what takes a command)."""
        self._refuse_unless(active_only=True)

    def require_acting(self) -> None:
        """Raise `RegionPassiveError` unless this region may apply the commands already sent to it: it is the
        active one, or the region a planned move left and is draining (what a command consumer asks)."""
        self._refuse_unless(active_only=False)

    def _refuse_unless(self, *, active_only: bool) -> None:
        record = self.record()
        if record.region == self.region or (not active_only and record.draining == self.region):
            return
        raise RegionPassiveError(self.region, record.region, self._retry_after, moving_to=record.moving_to)


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
