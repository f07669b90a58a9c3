"""Idempotent counters written once per batch, on a fake table with TransactWriteItems' rules (at most 100
actions, one action per item, all or nothing, cancellation reasons by position): a batch's contributions
summed per counter item, each event counted once whatever the deliveries (whole, from a checkpoint,
bisected, in any order, twice in one batch), conflicts tried again, failures reported from the first."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcore.read.counters import (
    MARKER_PREFIX,
    TRANSACTION_MAX_ITEMS,
    Contribution,
    CountingError,
    IdempotentCounters,
    Tally,
    cancellation_codes,
    summed,
)

TABLE = "sales-analytics"


class FakeCountersTable:
    """What IdempotentCounters asks of DynamoDB: TransactWriteItems of conditional Puts and ADD Updates."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, int]] = {}
        self.committed: list[list[dict[str, Any]]] = []  # every committed transaction's actions
        self.attempts = 0
        self.conflicts = 0  # the next attempts cancelled by a conflicting transaction
        self.unavailable = False

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.attempts += 1
        if self.unavailable:
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "down"}}, "TransactWriteItems"
            )
        keys = [self._key(action) for action in TransactItems]
        if len(TransactItems) > TRANSACTION_MAX_ITEMS or len(set(keys)) != len(keys):
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "bad"}}, "TransactWriteItems"
            )
        reasons: list[Any] = []
        for key, action in zip(keys, TransactItems, strict=True):
            exists = "Put" in action and key in self.items
            reasons.append({"Code": "ConditionalCheckFailed" if exists else "None"})
        if self.conflicts and not any(r["Code"] != "None" for r in reasons):
            self.conflicts -= 1
            reasons[-1] = {"Code": "TransactionConflict"}
        if any(r["Code"] != "None" for r in reasons):
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        for key, action in zip(keys, TransactItems, strict=True):
            if "Put" in action:
                self.items[key] = {}
            else:
                update = action["Update"]
                row = self.items.setdefault(key, {})
                for placeholder, name in update["ExpressionAttributeNames"].items():
                    amount = int(update["ExpressionAttributeValues"][":" + placeholder[1:]]["N"])
                    row[name] = row.get(name, 0) + amount
        self.committed.append(TransactItems)
        return {}

    @staticmethod
    def _key(action: dict[str, Any]) -> tuple[str, str]:
        ((kind, request),) = action.items()
        attributes = request["Item"] if kind == "Put" else request["Key"]
        return attributes["pk"]["S"], attributes["sk"]["S"]

    def counters(self) -> dict[tuple[str, str], dict[str, int]]:
        return {key: row for key, row in self.items.items() if not key[0].startswith(MARKER_PREFIX)}


def order_tally(n: int, *, campaign: str = "none", total: int = 1000) -> Tally:
    amounts = {"orders": 1, "revenue": total}
    return Tally(
        f"seq-{n:05d}",
        f"event-{n}",
        (
            Contribution("day#2026-11-26", "total#EUR", amounts),
            Contribution("day#2026-11-26", f"campaign#{campaign}#EUR", amounts),
            Contribution(f"campaign#{campaign}", "total#EUR", amounts),
        ),
    )


def once(tallies: list[Tally]) -> dict[tuple[str, str], dict[str, int]]:
    """What the counters must hold: every distinct event's contributions, once."""
    return summed(list({t.event_id: t for t in tallies}.values()))


def writes_per_counter_item(transaction: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(FakeCountersTable._key(a) for a in transaction if "Update" in a)


@pytest.fixture
def table() -> FakeCountersTable:
    return FakeCountersTable()


@pytest.fixture
def counters(table) -> IdempotentCounters:
    return IdempotentCounters(TABLE, table, sleep=lambda _: None)


class TestOneBatch:
    def test_writes_each_counter_item_once_with_the_batch_summed(self, table, counters):
        # GIVEN 40 orders over two campaigns
        batch = [order_tally(n, campaign="SPRING" if n % 2 else "none", total=100 + n) for n in range(40)]
        # WHEN they are counted as one batch
        result = counters.add_all(batch)
        # THEN one transaction: 40 markers, and each of the 5 counter items written once, with the sums
        assert (result.transactions, result.counted, result.counter_items, result.counter_writes) == (
            1,
            40,
            5,
            5,
        )
        ((transaction,),) = [table.committed]
        assert set(writes_per_counter_item(transaction).values()) == {1}
        assert table.counters() == once(batch)
        assert table.counters()[("day#2026-11-26", "total#EUR")] == {
            "orders": 40,
            "revenue": sum(100 + n for n in range(40)),
        }

    def test_the_same_event_twice_in_a_batch_is_counted_once(self, table, counters):
        batch = [order_tally(1), order_tally(2), order_tally(1)]
        result = counters.add_all(batch)
        assert (result.counted, result.duplicates) == (2, 1)
        assert table.counters()[("day#2026-11-26", "total#EUR")]["orders"] == 2

    def test_events_without_contributions_write_nothing(self, table, counters):
        assert counters.add_all([Tally("seq-1", "e-1", ())]).transactions == 0
        assert table.attempts == 0

    def test_a_batch_over_the_transaction_limit_is_split_in_delivery_order(self, table, counters):
        # GIVEN 150 events on 3 counter items: 97 markers and 3 updates fill one transaction
        batch = [order_tally(n) for n in range(150)]
        result = counters.add_all(batch)
        # THEN two transactions, each within 100 actions, each writing a counter item once
        assert result.transactions == 2
        assert [len(t) for t in table.committed] == [100, 56]
        assert all(set(writes_per_counter_item(t).values()) == {1} for t in table.committed)
        first_markers = [a["Put"]["Item"]["pk"]["S"] for a in table.committed[0] if "Put" in a]
        assert first_markers == [f"{MARKER_PREFIX}event-{n}" for n in range(97)]
        assert table.counters() == once(batch)


class TestRedelivery:
    def test_a_whole_batch_delivered_again_adds_nothing(self, table, counters):
        batch = [order_tally(n) for n in range(20)]
        counters.add_all(batch)
        again = counters.add_all(batch)
        assert (again.counted, again.duplicates, again.transactions, again.failures) == (0, 20, 0, [])
        assert table.counters() == once(batch)

    def test_a_batch_delivered_again_from_a_checkpoint_counts_only_what_is_new(self, table, counters):
        # GIVEN the first 12 of 20 events counted (the mapping checkpointed there)
        batch = [order_tally(n) for n in range(20)]
        counters.add_all(batch[:12])
        # WHEN the mapping delivers from event 5 on (a part of the batch again, and the rest)
        result = counters.add_all(batch[5:])
        # THEN the 8 new ones are counted, in one transaction without the 7 old markers
        assert (result.counted, result.duplicates, result.transactions) == (8, 7, 1)
        assert table.counters() == once(batch)

    def test_a_bisected_batch_counts_each_half_once(self, table, counters):
        batch = [order_tally(n, campaign=f"C{n % 3}") for n in range(30)]
        counters.add_all(batch[:15])  # the first half went through before the batch failed
        for part in (batch[:15], batch[15:], batch):  # bisected, then the whole batch redelivered
            counters.add_all(part)
        assert table.counters() == once(batch)


class TestFailures:
    def test_a_conflicting_transaction_is_tried_again(self, table, counters):
        table.conflicts = 2
        batch = [order_tally(n) for n in range(5)]
        result = counters.add_all(batch)
        assert (result.retries, result.transactions, result.failures) == (2, 1, [])
        assert table.counters() == once(batch)

    def test_conflicts_without_end_fail_the_batch_from_its_first_record(self, table):
        table.conflicts = 10
        counters = IdempotentCounters(TABLE, table, max_attempts=3, sleep=lambda _: None)
        batch = [order_tally(n) for n in range(3)]
        result = counters.add_all(batch)
        assert [f.sequence_number for f in result.failures] == ["seq-00000", "seq-00001", "seq-00002"]
        assert "TransactionConflict" in result.failures[0].reason
        assert table.counters() == {}

    def test_a_failed_transaction_reports_its_events_and_every_later_one(self, table, counters):
        # GIVEN 150 events (two transactions), the first committed, then the table unavailable
        batch = [order_tally(n) for n in range(150)]
        calls = table.transact_write_items

        def then_down(**kwargs: Any) -> dict[str, Any]:
            table.unavailable = table.attempts >= 1
            return calls(**kwargs)

        table.transact_write_items = then_down
        result = counters.add_all([*batch, order_tally(120)])  # and event 120 twice
        # THEN the second transaction's events are reported (its copy of event 120 too), the first's kept
        reported = [f.sequence_number for f in result.failures]
        assert reported == [f"seq-{n:05d}" for n in range(97, 150) for _ in range(2 if n == 120 else 1)]
        assert table.counters()[("day#2026-11-26", "total#EUR")]["orders"] == 97

    def test_add_raises_when_the_event_could_not_be_counted(self, table, counters):
        table.unavailable = True
        with pytest.raises(CountingError, match="InternalServerError"):
            counters.add("e-1", order_tally(1).contributions)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Tally], list[list[Tally]]]:
    """Events, and the batches a stream mapping might deliver them in: slices from checkpoints, halves of
    bisections, whole redeliveries, an event published twice; every event delivered at least once."""
    events = [
        order_tally(n, campaign=draw(st.sampled_from(["none", "A", "B"])))
        for n in range(draw(st.integers(1, 130)))
    ]
    batches: list[list[Tally]] = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, len(events) - 1))
        end = draw(st.integers(start + 1, len(events)))
        batches.append(events[start:end])
    if draw(st.booleans()):
        batches.append([*events, draw(st.sampled_from(events))])
    else:
        batches.append(events)
    return events, draw(st.permutations(batches))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_any_deliveries_count_every_event_exactly_once_writing_a_counter_item_once_per_transaction(delivered):
    events, batches = delivered
    table = FakeCountersTable()
    counters = IdempotentCounters(TABLE, table, sleep=lambda _: None)
    for batch in batches:
        result = counters.add_all(batch)
        assert result.failures == []
        if len(batch) + result.counter_items <= TRANSACTION_MAX_ITEMS:
            assert result.transactions <= 1  # the batch fits: its counter items are written at most once
    assert table.counters() == once(events)
    assert all(set(writes_per_counter_item(t).values()) <= {1} for t in table.committed)
    assert all(len(t) <= TRANSACTION_MAX_ITEMS for t in table.committed)


class TestCancellationReasons:
    def test_are_read_from_the_response_or_else_from_the_message(self):
        with_reasons = ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                "CancellationReasons": [{"Code": "ConditionalCheckFailed"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )
        message_only = ClientError(
            {
                "Error": {
                    "Code": "TransactionCanceledException",
                    "Message": "Transaction cancelled, please refer cancellation reasons for specific "
                    "reasons [ConditionalCheckFailed, None, TransactionConflict]",
                }
            },
            "TransactWriteItems",
        )
        assert cancellation_codes(with_reasons) == ["ConditionalCheckFailed", "None"]
        assert cancellation_codes(message_only) == ["ConditionalCheckFailed", "None", "TransactionConflict"]
