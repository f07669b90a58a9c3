"""The generic projector, in memory: ordering, duplicates, gaps, one write per aggregate, failures that hold
back only their own aggregate, and a property test that every delivery converges to a replay of the log."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcore import InMemoryEventStore
from eventcore.lambdas.batch_consumer import batch_response
from eventcore.read.change_records import decode_change_record
from eventcore.read.projector import Projection, Projector
from eventcore.read.view_store import InMemoryViewStore, ViewConflictError, ViewRow
from orders.read_model import order_projection, project_order
from tests.support.read_side import commits_for, ddb_record, deliver, lifecycle, sequence_number


def log_with(*histories: tuple[str, int, int]) -> tuple[InMemoryEventStore, dict[str, list]]:
    """(order id, lifecycle steps, events per commit) -> a store holding those orders, and their commits."""
    store = InMemoryEventStore()
    commits = {}
    for order_id, steps, per_commit in histories:
        commits[order_id] = commits_for(order_id, lifecycle(order_id, steps=steps), per_commit=per_commit)
        for commit in commits[order_id]:
            store.append(commit)
    return store, commits


def records_of(commits: list) -> list[dict[str, Any]]:
    return [ddb_record(commit, sequence_number(i)) for i, commit in enumerate(commits)]


def handle(projector: Projector, batch: list[dict[str, Any]]) -> dict[str, Any]:
    return batch_response(projector.handle([decode_change_record(r) for r in batch]).failed_sequence_numbers)


def replayed(commits: list) -> ViewRow | None:
    return order_projection.replay(commits)


class TestProjector:
    def test_a_batch_writes_once_per_order_it_touches(self):
        # GIVEN two orders of three events each, interleaved on the stream
        store, commits = log_with(("a", 3, 1), ("b", 3, 1))
        views = InMemoryViewStore()
        projector = Projector(order_projection, store, views)
        interleaved = [c for pair in zip(commits["a"], commits["b"], strict=True) for c in pair]
        # WHEN one batch delivers all six
        result = projector.handle([decode_change_record(r) for r in records_of(interleaved)])
        # THEN each order's row is its replay, written once
        assert result.failures == []
        assert (views.writes, result.rows_written, result.events_applied) == (2, 2, 6)
        assert views.rows["a"] == replayed(commits["a"])
        assert views.rows["b"] == replayed(commits["b"])
        assert views.rows["a"].version == 3
        assert views.rows["a"].view["status"] == "shipped"

    def test_already_applied_records_are_skipped_without_a_write(self):
        store, commits = log_with(("a", 3, 1))
        views = InMemoryViewStore()
        projector = Projector(order_projection, store, views)
        projector.handle([decode_change_record(r) for r in records_of(commits["a"])])
        # WHEN the same records come again (a redelivery)
        result = projector.handle([decode_change_record(r) for r in records_of(commits["a"])])
        # THEN nothing is applied or written
        assert (result.events_applied, result.rows_written, views.writes) == (0, 0, 1)

    def test_a_gap_is_filled_from_the_log(self):
        store, commits = log_with(("a", 3, 1))
        views = InMemoryViewStore()
        projector = Projector(order_projection, store, views)
        # WHEN only the last commit is delivered (the stream skipped ahead)
        result = projector.handle([decode_change_record(ddb_record(commits["a"][2], sequence_number(0)))])
        # THEN the missing versions were read from the log and applied first
        assert result.gaps_filled == 1
        assert views.rows["a"] == replayed(commits["a"])

    def test_a_gap_the_log_cannot_fill_fails_the_record(self):
        _, commits = log_with(("a", 3, 1))
        lost = InMemoryEventStore()  # a log that lacks versions 1-2
        views = InMemoryViewStore()
        result = Projector(order_projection, lost, views).handle(
            [decode_change_record(ddb_record(commits["a"][2], sequence_number(0)))]
        )
        assert result.failed_sequence_numbers == [sequence_number(0)]
        assert "GapError" in result.failures[0].reason
        assert views.rows == {}

    def test_multi_event_commits_are_applied_whole_or_from_where_the_row_stands(self):
        store, commits = log_with(("a", 3, 2))  # commits at versions 1 (two events) and 3
        views = InMemoryViewStore()
        projector = Projector(order_projection, store, views)
        projector.handle([decode_change_record(r) for r in records_of(commits["a"])])
        assert views.rows["a"] == replayed(commits["a"])
        assert views.rows["a"].version == 3

    def test_a_failing_record_holds_back_only_its_own_orders_later_records(self):
        # GIVEN orders a and b, where a's second record is damaged
        store, commits = log_with(("a", 3, 1), ("b", 3, 1))
        records = records_of(
            [commits["a"][0], commits["b"][0], commits["a"][1], commits["b"][1], commits["a"][2]]
        )
        del records[2]["dynamodb"]["NewImage"]["events"]
        views = InMemoryViewStore()
        # WHEN the batch is projected
        result = Projector(order_projection, store, views).handle([decode_change_record(r) for r in records])
        # THEN a's damaged record and a's later record are reported; a keeps version 1, b is complete
        assert result.failed_sequence_numbers == [sequence_number(2), sequence_number(4)]
        assert "UndecodableRecordError" in result.failures[0].reason
        assert views.rows["a"] == replayed(commits["a"][:1])
        assert views.rows["b"] == replayed(commits["b"][:2])

    def test_a_record_without_keys_is_reported_on_its_own(self):
        store, commits = log_with(("a", 1, 1))
        junk = ddb_record(None, sequence_number(0), image={"junk": {"S": "x"}}, keys={})
        views = InMemoryViewStore()
        result = Projector(order_projection, store, views).handle(
            [
                decode_change_record(junk),
                decode_change_record(ddb_record(commits["a"][0], sequence_number(1))),
            ]
        )
        assert result.failed_sequence_numbers == [sequence_number(0)]
        assert views.rows["a"].version == 1

    def test_a_concurrent_writer_is_caught_up_with_not_overwritten(self):
        # GIVEN a rebuild that writes version 2 between the projector's read and its write
        store, commits = log_with(("a", 3, 1))

        class RacingViews(InMemoryViewStore):
            raced = False

            def put(self, key: str, row: ViewRow, *, expected_version: int) -> None:
                if not self.raced:
                    self.raced = True
                    rival = replayed(commits["a"][:2])
                    assert rival is not None
                    self.put_if_newer({key: rival})
                super().put(key, row, expected_version=expected_version)

        views = RacingViews()
        # WHEN the projector handles versions 1..3
        result = Projector(order_projection, store, views).handle(
            [decode_change_record(r) for r in records_of(commits["a"])]
        )
        # THEN it lost the race once, started again from version 2 and wrote version 3
        assert result.conflicts == 1
        assert result.failures == []
        assert views.rows["a"] == replayed(commits["a"])

    def test_a_failed_write_reports_the_orders_records(self):
        store, commits = log_with(("a", 2, 1), ("b", 1, 1))

        class ThrottledForA(InMemoryViewStore):
            def put(self, key: str, row: ViewRow, *, expected_version: int) -> None:
                if key == "a":
                    raise RuntimeError("ProvisionedThroughputExceededException")
                super().put(key, row, expected_version=expected_version)

        views = ThrottledForA()
        records = records_of([commits["a"][0], commits["b"][0], commits["a"][1]])
        result = Projector(order_projection, store, views).handle([decode_change_record(r) for r in records])
        assert result.failed_sequence_numbers == [sequence_number(0), sequence_number(2)]
        assert set(views.rows) == {"b"}

    def test_records_of_other_aggregates_are_ignored(self):
        store, commits = log_with(("a", 1, 1))
        other = Projection("Counter", "id", order_projection.registry, project_order)
        views = InMemoryViewStore()
        result = Projector(other, store, views).handle([decode_change_record(records_of(commits["a"])[0])])
        assert (result.failures, views.rows) == ([], {})


class TestViewStoreContract:
    def test_put_requires_the_expected_version(self):
        views = InMemoryViewStore()
        views.put("a", ViewRow({"x": 1}, 1), expected_version=0)
        with pytest.raises(ViewConflictError) as conflict:
            views.put("a", ViewRow({"x": 2}, 2), expected_version=0)
        assert conflict.value.current == ViewRow({"x": 1}, 1)

    def test_put_if_newer_never_moves_a_row_back(self):
        views = InMemoryViewStore()
        views.put("a", ViewRow({"x": 3}, 3), expected_version=0)
        assert views.put_if_newer({"a": ViewRow({"x": 2}, 2), "b": ViewRow({"x": 1}, 1)}) == 1
        assert views.rows["a"].version == 3


# -- convergence ---------------------------------------------------------------------------------------------

LIFECYCLES = [1, 2, 3, -1, -2]


@st.composite
def deliveries(draw: st.DrawFn) -> dict[str, Any]:
    """A log of 1-4 orders and a shard delivering its commits interleaved across orders, with some commits
    delivered early (skipping ahead) and some more than once."""
    histories = [
        (f"order-{i}", draw(st.sampled_from(LIFECYCLES)), draw(st.integers(1, 2)))
        for i in range(draw(st.integers(1, 4)))
    ]
    store, commits = log_with(*histories)
    # Interleave: a permutation of order tags, each order's commits taken in order.
    tags = [order_id for order_id, history in commits.items() for _ in history]
    tags = draw(st.permutations(tags))
    cursors = {order_id: iter(history) for order_id, history in commits.items()}
    shard = [next(cursors[tag]) for tag in tags]
    # Skip ahead: a few adjacent swaps put a later version of an order first.
    for i in draw(st.lists(st.integers(0, max(len(shard) - 2, 0)), max_size=3)):
        if len(shard) > 1:
            shard[i], shard[i + 1] = shard[i + 1], shard[i]
    # Duplicates: some commits delivered again later.
    for position, pick in draw(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=4)):
        shard.insert(position % (len(shard) + 1), shard[pick % len(shard)])
    return {
        "store": store,
        "commits": commits,
        "shard": shard,
        "batch_sizes": draw(st.lists(st.integers(1, 7), min_size=1, max_size=5)),
        "failing_calls": draw(st.sets(st.integers(0, 30), max_size=4)),
        "failing_writes": draw(st.sets(st.integers(0, 10), max_size=3)),
        "rival_writes": draw(st.sets(st.integers(0, 10), max_size=3)),
    }


class FlakyViews(InMemoryViewStore):
    """Some writes fail (throttled); before some others a rival (a rebuild) writes a newer row first."""

    def __init__(self, failing: set[int], rivals: set[int], commits: dict[str, list]) -> None:
        super().__init__()
        self._calls = itertools.count()
        self._failing, self._rivals, self._commits = failing, rivals, commits

    def put(self, key: str, row: ViewRow, *, expected_version: int) -> None:
        call = next(self._calls)
        if call in self._failing:
            raise RuntimeError("throttled")
        if call in self._rivals:
            rival = order_projection.replay(self._commits[key])
            assert rival is not None
            self.put_if_newer({key: rival})
        super().put(key, row, expected_version=expected_version)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_every_delivery_converges_to_a_replay_of_the_log(case: dict[str, Any]):
    # GIVEN a projection whose function fails on some calls (transient faults) and a flaky view store
    calls = itertools.count()

    def flaky_project(view, event):
        if next(calls) in case["failing_calls"]:
            raise RuntimeError("transient fault")
        return project_order(view, event)

    projection = Projection("Order", "order_id", order_projection.registry, flaky_project)
    views = FlakyViews(case["failing_writes"], case["rival_writes"], case["commits"])
    projector = Projector(projection, case["store"], views)
    records = [ddb_record(commit, sequence_number(i)) for i, commit in enumerate(case["shard"])]
    sizes = itertools.cycle(case["batch_sizes"])
    # WHEN the shard is delivered with Lambda's checkpointing (redelivery from the lowest failure)
    deliver(lambda batch: handle(projector, batch), records, lambda: next(sizes))
    # THEN every order's row equals a replay of its log
    assert views.rows == {
        order_id: order_projection.replay(history) for order_id, history in case["commits"].items()
    }
