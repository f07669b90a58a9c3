"""Counters that survive redelivery, written once per batch: a batch's contributions are summed per counter
item, and each event is marked counted by an item keyed by its id, in the same transaction, conditioned on
the marker being absent. A redelivered event finds its marker and adds nothing, whatever else its batch
holds this time (a batch redelivered whole, from a checkpoint, or bisected).

Why a transaction per batch and not one per event: the counters are few items shared by every event (a
day's total, a campaign's), and an item takes at most 1,000 write units a second, 500 transactional writes.
One transaction per event wrote each of them once per event, the whole system's ceiling at a few hundred
orders a second (docs/capacity.md); one per batch writes each of them once per batch, and the batch size
sets the rate.

Transactions are fine here: the counters are regional derived data (rebuilt from the published events,
never replicated), so the rule that replicated tables take no transactions (multi-Region strong
consistency, issue 22) does not apply to this table."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from eventcore.errors import EventCoreError, error_code
from eventcore.lambdas.batch_consumer import RecordFailure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MARKER_PREFIX = "event#"
# TransactWriteItems takes at most 100 actions, 4 MB in all. A marker is under 100 bytes and a counter item
# a few hundred (BENCHMARKS.md: SalesAnalytics' largest item is 92 bytes), so 100 actions are some tens of
# KB: the action count is the limit that binds, and TRANSACTION_MAX_BYTES only guards against contributions
# of a shape this code was not written for.
TRANSACTION_MAX_ITEMS = 100
TRANSACTION_MAX_BYTES = 4 * 1024 * 1024
# Cancellation reasons that say "try again": another transaction held an item, or the table was throttled.
RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


@dataclass(frozen=True, slots=True)
class Contribution:
    """Amounts to add to the counters of one item, e.g. ("day#2026-11-26", "total#EUR", {"orders": 1})."""

    pk: str
    sk: str
    amounts: Mapping[str, int]

    @property
    def key(self) -> tuple[str, str]:
        return self.pk, self.sk


@dataclass(frozen=True, slots=True)
class Tally:
    """One event's contributions, to be counted once. `source` names what delivered it (a Kinesis sequence
    number): a failure is reported under it."""

    source: str
    event_id: str
    contributions: Sequence[Contribution]


@dataclass
class BatchCount:
    """What one batch did to the counters: the records to report (in delivery order), and its figures."""

    failures: list[RecordFailure] = field(default_factory=list)
    counted: int = 0  # events counted now
    duplicates: int = 0  # events found counted before (a marker), or twice in this batch: nothing added
    transactions: int = 0  # TransactWriteItems that committed
    counter_writes: int = 0  # counter item updates committed: one per counter item per transaction
    counter_items: int = 0  # distinct counter items the batch's events contribute to
    retries: int = 0  # transactions tried again after a conflict or throttling

    def figures(self) -> dict[str, int]:
        return {
            "AnalyticsEventsCounted": self.counted,
            "AnalyticsDuplicatesSkipped": self.duplicates,
            "AnalyticsTransactions": self.transactions,
            "AnalyticsCounterWrites": self.counter_writes,
            "AnalyticsCounterItems": self.counter_items,
            "AnalyticsTransactionRetries": self.retries,
            "AnalyticsFailedRecords": len(self.failures),
        }


class CountingError(EventCoreError):
    """A batch's transaction could not be committed: its events were not counted, to be delivered again."""


class IdempotentCounters:
    """Counters in one DynamoDB table keyed (pk S, sk S); markers live in the same table, expiring after
    `marker_ttl_seconds` (longer than any redelivery or replay window of the source stream)."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        marker_ttl_seconds: int = 30 * 24 * 3600,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._ttl = marker_ttl_seconds
        self._max_attempts = max_attempts
        self._sleep = sleep

    def add(self, event_id: str, contributions: Sequence[Contribution]) -> bool:
        """Add one event's contributions once. False when the event was already counted."""
        if not contributions:
            return False
        result = self.add_all([Tally(event_id, event_id, contributions)])
        if result.failures:
            raise CountingError(result.failures[0].reason)
        return result.counted == 1

    def add_all(self, tallies: Sequence[Tally]) -> BatchCount:
        """Count a batch's events, each once: their contributions summed per counter item, written with
        their markers in one transaction, or in as few as the 100-action limit allows (in delivery order;
        a batch of up to `100 - counter items` events is one). Events already counted are dropped from the
        transaction and it is tried again without them; a conflict or throttling is tried again after a
        backoff. When a transaction cannot be committed, its events and every later one are reported: a
        stream delivers again from the first failure, and the markers make the repeat harmless."""
        result = BatchCount()
        pending: list[Tally] = []
        repeats: dict[str, list[str]] = {}  # event id -> the sources of its later copies in this batch
        for tally in tallies:
            if not tally.contributions:
                continue
            if tally.event_id in repeats:  # the same event twice in one batch (published twice): once
                repeats[tally.event_id].append(tally.source)
                continue
            repeats[tally.event_id] = []
            pending.append(tally)
        result.counter_items = len({c.key for tally in pending for c in tally.contributions})
        chunks = self._chunks(pending)
        for position, chunk in enumerate(chunks):
            try:
                self._commit(chunk, result)
            except Exception as exc:  # reported, never swallowed: the batch response names the records
                reason = f"{type(exc).__name__}: {exc}"
                for tally in (t for later in chunks[position:] for t in later):
                    result.failures.append(RecordFailure(tally.source, None, reason))
                    result.failures.extend(
                        RecordFailure(s, None, reason) for s in repeats.pop(tally.event_id)
                    )
                break
        result.duplicates += sum(len(sources) for sources in repeats.values())
        return result

    # -- one transaction -------------------------------------------------------------------------------------

    def _commit(self, chunk: list[Tally], result: BatchCount) -> None:
        """Commit one chunk's markers and summed counters; drop the events already counted until the rest
        goes through (each round drops at least one, so it ends)."""
        pending = list(chunk)
        attempt = 0
        while pending:
            sums = summed(pending)
            try:
                self._client.transact_write_items(TransactItems=self._actions(pending, sums))
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                codes = cancellation_codes(exc)
                counted_before = {
                    i for i, code in enumerate(codes[: len(pending)]) if code == "ConditionalCheckFailed"
                }
                if counted_before:
                    result.duplicates += len(counted_before)
                    pending = [t for i, t in enumerate(pending) if i not in counted_before]
                    continue
                attempt += 1
                if attempt >= self._max_attempts or not RETRYABLE_REASONS.intersection(codes):
                    raise CountingError(
                        f"transaction of {len(pending)} events cancelled ({', '.join(sorted(set(codes)))})"
                        + (f" after {attempt} attempts" if attempt > 1 else "")
                    ) from exc
                result.retries += 1
                self._sleep(min(0.05 * 2**attempt, 1.0))
                continue
            result.transactions += 1
            result.counter_writes += len(sums)
            result.counted += len(pending)
            return

    def _actions(
        self, pending: list[Tally], sums: dict[tuple[str, str], dict[str, int]]
    ) -> list[TransactWriteItemTypeDef]:
        """The markers first, in `pending`'s order (a cancellation's reasons are read by position), then one
        update per counter item."""
        expires_at = str(int(time.time()) + self._ttl)
        markers: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        "pk": {"S": f"{MARKER_PREFIX}{tally.event_id}"},
                        "sk": {"S": "counted"},
                        "expires_at": {"N": expires_at},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for tally in pending
        ]
        updates: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                    "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(amounts))),
                    "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(amounts)},
                    "ExpressionAttributeValues": {
                        f":a{i}": {"N": str(amount)} for i, amount in enumerate(amounts.values())
                    },
                }
            }
            for (pk, sk), amounts in sums.items()
        ]
        return [*markers, *updates]

    @staticmethod
    def _chunks(pending: list[Tally]) -> list[list[Tally]]:
        """Consecutive runs of events whose markers and distinct counter items fit in one transaction."""
        chunks: list[list[Tally]] = []
        chunk: list[Tally] = []
        keys: set[tuple[str, str]] = set()
        size = 0
        for tally in pending:
            new_keys = {c.key for c in tally.contributions} - keys
            new_size = _marker_bytes(tally) + sum(_update_bytes(c) for c in tally.contributions)
            fits = (
                len(chunk) + 1 + len(keys) + len(new_keys) <= TRANSACTION_MAX_ITEMS
                and size + new_size <= TRANSACTION_MAX_BYTES
            )
            if chunk and not fits:
                chunks.append(chunk)
                chunk, keys, size = [], set(), 0
                new_keys = {c.key for c in tally.contributions}
            chunk.append(tally)
            keys |= new_keys
            size += new_size
        if chunk:
            chunks.append(chunk)
        return chunks


def cancellation_codes(exc: ClientError) -> list[str]:
    """Why each action of a cancelled transaction failed, in the actions' order ("None" where it did not).
    boto3 hands DynamoDB's `CancellationReasons` on in the error response; should they be missing, the
    message lists the same codes ("Transaction cancelled, please refer cancellation reasons for specific
    reasons [ConditionalCheckFailed, None]")."""
    reasons = exc.response.get("CancellationReasons")
    if reasons:
        return [reason.get("Code") or "None" for reason in reasons]
    message = str(exc.response.get("Error", {}).get("Message", ""))
    listed = message[message.rfind("[") + 1 : message.rfind("]")] if "[" in message else ""
    return [code.strip() for code in listed.split(",")] if listed else []


def summed(tallies: Sequence[Tally]) -> dict[tuple[str, str], dict[str, int]]:
    """The tallies' contributions added up per counter item (pk, sk), each amount by name."""
    sums: dict[tuple[str, str], dict[str, int]] = {}
    for tally in tallies:
        for contribution in tally.contributions:
            amounts = sums.setdefault(contribution.key, {})
            for name, amount in contribution.amounts.items():
                amounts[name] = amounts.get(name, 0) + amount
    return sums


def _marker_bytes(tally: Tally) -> int:
    return len(MARKER_PREFIX) + len(tally.event_id.encode()) + 64  # pk, sk "counted", expires_at, names


def _update_bytes(contribution: Contribution) -> int:
    """An upper bound of what a counter item's update counts against the 4 MB: its key and amounts (an
    amount is at most 21 bytes as a DynamoDB number)."""
    return (
        len(contribution.pk.encode())
        + len(contribution.sk.encode())
        + sum(len(name.encode()) + 21 for name in contribution.amounts)
        + 8
    )
