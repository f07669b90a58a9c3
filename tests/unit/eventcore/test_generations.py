"""Blue/green generations of a read model, in memory: the registry's rules (what is fed, what may be switched
to or dropped), the cached registry a function reads, the projector feeding every fed generation with its
own projection, and the queries reading the active one only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError

from eventcore import InMemoryEventStore
from eventcore.read.change_records import decode_change_record
from eventcore.read.generations.lifecycle import GenerationError, Generations, State
from eventcore.read.generations.projector import (
    ActiveViewStore,
    GenerationalProjector,
    GenerationalView,
    generation_failure,
)
from eventcore.read.generations.registry import CachedGenerations, InMemoryGenerationRegistry
from eventcore.read.view_store import InMemoryViewStore, ViewRow
from orders.read_model import order_projection
from tests.support.projections import BROKEN, order_projection_with_units
from tests.support.projections import NAME as WITH_UNITS
from tests.support.read_side import commits_for, ddb_record, lifecycle, sequence_number

CURRENT = "orders.read_model:order_projection"
AT = "2026-12-01T10:00:00.000000Z"


def initial() -> Generations:
    return Generations.parse(f'{{"blue": {{"state": "active", "projection": "{CURRENT}"}}}}')


def green_in(state: State) -> Generations:
    generations = initial().begin("green", WITH_UNITS, at=AT)
    if state is not State.BUILDING:
        generations = generations.catching_up("green", at=AT)
    if state is State.READY:
        generations = generations.ready("green", at=AT, rows=3)
    return generations


class TestTheRegistry:
    def test_a_new_generation_is_built_unfed_then_fed_while_it_catches_up(self):
        building = initial().begin("green", WITH_UNITS, at=AT)
        assert building.get("green").state is State.BUILDING
        assert [g.name for g in building.fed] == ["blue"]
        catching_up = building.catching_up("green", at=AT)
        assert [g.name for g in catching_up.fed] == ["blue", "green"]
        assert catching_up.active.name == "blue"

    def test_a_half_built_generation_cannot_be_switched_to(self):
        for state in (State.BUILDING, State.CATCHING_UP):
            with pytest.raises(GenerationError, match="never answers a query"):
                green_in(state).switch("green", at=AT)
        with pytest.raises(GenerationError, match="no generation to switch to"):
            green_in(State.CATCHING_UP).switch(at=AT)

    def test_a_switch_is_one_change_and_switching_back_undoes_it(self):
        switched = green_in(State.READY).switch(at=AT)
        assert (switched.active.name, switched.get("blue").state) == ("green", State.STANDBY)
        assert {g.name for g in switched.fed} == {"blue", "green"}, "the previous one is still fed"
        back = switched.switch(at=AT)
        assert (back.active.name, back.get("green").state) == ("blue", State.STANDBY)

    def test_the_active_generation_cannot_be_dropped_and_a_dropped_one_is_no_longer_fed(self):
        with pytest.raises(GenerationError, match="switch to another one first"):
            green_in(State.READY).drop("blue")
        dropped = green_in(State.READY).switch(at=AT).drop()
        assert list(dropped.by_name) == ["green"]
        assert [g.name for g in dropped.fed] == ["green"]

    def test_a_generation_in_use_cannot_be_begun_again(self):
        with pytest.raises(GenerationError, match="drop it first"):
            green_in(State.CATCHING_UP).begin("green", CURRENT, at=AT)
        with pytest.raises(GenerationError, match="not building"):
            green_in(State.CATCHING_UP).catching_up("green", at=AT)

    def test_the_document_round_trips_and_needs_exactly_one_active_generation(self):
        ready = green_in(State.READY)
        assert Generations.parse(ready.dump()) == ready
        with pytest.raises(GenerationError, match="exactly one active"):
            Generations.parse(f'{{"blue": {{"state": "standby", "projection": "{CURRENT}"}}}}')
        with pytest.raises(GenerationError, match="not readable"):
            Generations.parse('{"blue": {"state": "sideways", "projection": "x"}}')


class TestCachedGenerations:
    def test_it_reads_with_its_max_age_and_falls_back_only_when_told(self):
        fetched: list[tuple[str, int]] = []
        answers: list[Any] = [initial().dump(), RuntimeError("throttled")]

        def fetch(name: str, max_age: int) -> str:
            fetched.append((name, max_age))
            answer = answers.pop(0) if answers else RuntimeError("throttled")
            if isinstance(answer, Exception):
                raise answer
            return str(answer)

        cached = CachedGenerations("/stack/views/OrdersView/generations", max_age=7, fetch=fetch)
        assert cached.current().active.name == "blue"
        with pytest.raises(GenerationError, match="cannot read the generations registry"):
            cached.current()
        assert cached.current(stale_ok=True).active.name == "blue"
        assert fetched[0] == ("/stack/views/OrdersView/generations", 7)

    def test_a_fresh_read_asks_for_no_cache(self):
        fetched: list[int] = []

        def fetch(_: str, max_age: int) -> str:
            fetched.append(max_age)
            return initial().dump()

        cached = CachedGenerations("registry", max_age=7, fetch=fetch)
        cached.current()
        cached.current(fresh=True)
        assert fetched == [7, 0]


def throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}}, operation
    )


class FlakyViewStore(InMemoryViewStore):
    """A view store whose table answers with errors while told to: `unreadable` (BatchGetItem), `unwritable`
    (PutItem, the failure row's write included), each a count of calls to fail (-1: every call)."""

    def __init__(self, key_attribute: str) -> None:
        super().__init__(key_attribute)
        self.unreadable = 0
        self.unwritable = 0

    @staticmethod
    def _fails(remaining: int) -> tuple[bool, int]:
        return (remaining != 0, remaining - 1 if remaining > 0 else remaining)

    def get_many(self, keys: Sequence[str]) -> dict[str, ViewRow]:
        fails, self.unreadable = self._fails(self.unreadable)
        if fails:
            raise throttled("BatchGetItem")
        return super().get_many(keys)

    def put(self, key: str, row: ViewRow, *, expected_version: int) -> None:
        fails, self.unwritable = self._fails(self.unwritable)
        if fails:
            raise throttled("PutItem")
        super().put(key, row, expected_version=expected_version)

    def put_if_newer(self, rows: Mapping[str, ViewRow]) -> int:
        fails, self.unwritable = self._fails(self.unwritable)
        if fails:
            raise throttled("PutItem")
        return super().put_if_newer(rows)


class Views:
    """Two generations in memory, their registry, and the orders log."""

    def __init__(self, generations: Generations) -> None:
        self.registry = InMemoryGenerationRegistry(generations)
        self.blue, self.green = FlakyViewStore("order_id"), FlakyViewStore("order_id")
        cached = CachedGenerations("registry", max_age=0, fetch=lambda _, __: self.registry.read().dump())
        self.view = GenerationalView(order_projection, {"blue": self.blue, "green": self.green}, cached)
        self.log = InMemoryEventStore()

    def order(self, order_id: str, steps: int = 2) -> list[dict[str, Any]]:
        commits = commits_for(order_id, lifecycle(order_id, steps=steps))
        for commit in commits:
            self.log.append(commit)
        return [ddb_record(commit, sequence_number(i)) for i, commit in enumerate(commits)]

    def project(self, records: list[dict[str, Any]], projector: GenerationalProjector | None = None) -> Any:
        projector = projector or GenerationalProjector(self.view, self.log)
        return projector.handle([decode_change_record(record) for record in records])

    def replayed(self, order_id: str) -> ViewRow | None:
        return order_projection.replay(self.log.read(f"Order-{order_id}"))

    def cached_for_a_while(self) -> None:
        """The registry as a warm container holds it: what it read first, until it reads with max_age=0
        (Powertools' cache, whose entries live `max_age` seconds)."""
        cached = self.registry.read().dump()

        def fetch(_: str, max_age: int) -> str:
            return cached if max_age > 0 else self.registry.read().dump()

        self.view.generations = CachedGenerations("registry", max_age=5, fetch=fetch)


class TestTheProjector:
    def test_it_feeds_every_fed_generation_with_its_own_projection_and_never_one_being_built(self):
        views = Views(green_in(State.BUILDING))
        views.project(views.order("a"))
        assert "a" in views.blue.rows
        assert views.green.rows == {}, "a generation being built is not fed"

        views.registry.write(views.registry.read().catching_up("green", at=AT))
        result = views.project(views.order("b"))
        assert result.failures == []
        assert views.blue.rows["b"] == order_projection.replay(views.log.read("Order-b"))
        assert views.green.rows["b"] == order_projection_with_units.replay(views.log.read("Order-b"))
        assert "units" in views.green.rows["b"].view
        assert "units" not in views.blue.rows["b"].view
        assert result.rows_written == 2

    def test_a_candidate_failing_a_record_is_marked_failed_and_the_live_generation_is_unharmed(self):
        # GIVEN a candidate whose row is damaged, so its fold fails
        views = Views(green_in(State.CATCHING_UP))
        records = views.order("a")
        views.green.rows["a"] = ViewRow({"not": "an order"}, 1)
        # WHEN a batch comes
        result = views.project(records)
        # THEN the live generation applied it and nothing is reported for Lambda to deliver again
        assert views.blue.rows["a"].version == 2
        assert result.failures == []
        assert result.candidates_failed == 1
        failure = generation_failure(views.green)
        assert failure is not None
        assert failure["generation"] == "green"
        assert failure["reason"]

    def test_a_failed_candidate_is_fed_no_more(self):
        views = Views(green_in(State.CATCHING_UP))
        records = views.order("a")
        views.green.rows["a"] = ViewRow({"not": "an order"}, 1)
        projector = GenerationalProjector(views.view, views.log)
        projector.handle([decode_change_record(record) for record in records])
        # a later batch, for an order the candidate could have applied, goes to the live generation only
        result = projector.handle([decode_change_record(record) for record in views.order("b")])
        assert (result.failures, result.candidates_failed) == ([], 0)
        assert "b" in views.blue.rows
        assert "b" not in views.green.rows

    def test_another_container_learns_of_the_failure_from_the_candidates_table(self):
        views = Views(green_in(State.CATCHING_UP))
        views.green.rows["a"] = ViewRow({"not": "an order"}, 1)
        views.project(views.order("a"))  # one container marks green failed
        views.project(views.order("b"))  # another one, cold, reads the mark and leaves green alone
        assert "b" not in views.green.rows

    def test_a_record_failing_in_the_active_generation_is_still_reported(self):
        views = Views(green_in(State.CATCHING_UP))
        records = views.order("a")
        views.blue.rows["a"] = ViewRow({"not": "an order"}, 1)  # the live row is damaged
        result = views.project(records)
        assert [f.sequence_number for f in result.failures] == [sequence_number(1)]
        assert result.failures[0].reason.startswith("blue: ")
        assert generation_failure(views.blue) is None

    def test_without_a_readable_registry_every_record_is_reported_and_nothing_written(self):
        views = Views(initial())
        views.view.generations = CachedGenerations("registry", max_age=0, fetch=lambda _, __: "not json")
        result = views.project(views.order("a"))
        assert len(result.failures) == 2
        assert views.blue.rows == {}

    def test_a_candidate_whose_projection_cannot_be_imported_is_marked_failed(self):
        views = Views(initial().begin("green", "tests.no_such_module:projection", at=AT))
        views.registry.write(views.registry.read().catching_up("green", at=AT))
        result = views.project(views.order("a"))
        assert views.blue.rows["a"].version == 2
        assert result.failures == []
        failure = generation_failure(views.green)
        assert failure is not None
        assert "ProjectionNotFoundError" in failure["reason"]


class TestACandidateWhoseTableFails:
    """A candidate's table throttled, missing or denied: the live generation's batch goes through, and the
    candidate is neither the reason for a retry nor marked failed for good."""

    def test_a_candidate_table_that_cannot_be_read_holds_the_live_generation_back_in_nothing(self):
        # GIVEN a candidate whose table answers every read with an error
        views = Views(green_in(State.CATCHING_UP))
        views.green.unreadable = -1
        # WHEN a batch comes
        result = views.project(views.order("a"))
        # THEN the live generation applied it, nothing is reported for Lambda, and the candidate is behind,
        # not failed
        assert views.blue.rows["a"] == views.replayed("a")
        assert result.failures == []
        assert (result.candidates_failed, result.candidates_behind) == (0, 1)
        assert any("ProvisionedThroughputExceededException" in problem for problem in result.problems)
        views.green.unreadable = 0
        assert generation_failure(views.green) is None

    def test_a_throttled_write_is_caught_up_at_the_next_batch(self):
        # GIVEN a candidate whose table refuses one write
        views = Views(green_in(State.CATCHING_UP))
        projector = GenerationalProjector(views.view, views.log)
        views.green.unwritable = 1
        first = views.project(views.order("a"), projector)
        assert (first.failures, first.candidates_failed) == ([], 0)
        assert first.candidates_behind == 1
        assert "a" not in views.green.rows
        # WHEN the next batch comes, about another order
        second = views.project(views.order("b"), projector)
        # THEN the candidate caught up the order it missed, and applied the new one
        assert (second.failures, second.candidates_failed, second.candidates_behind) == ([], 0, 0)
        assert views.green.rows["a"] == order_projection_with_units.replay(views.log.read("Order-a"))
        assert views.green.rows["b"] == order_projection_with_units.replay(views.log.read("Order-b"))
        assert generation_failure(views.green) is None

    def test_a_failure_row_that_cannot_be_written_fails_nothing_and_is_written_later(self):
        # GIVEN a candidate whose projection refuses every event, and whose table refuses writes for now
        views = Views(initial().begin("green", BROKEN, at=AT))
        views.registry.write(views.registry.read().catching_up("green", at=AT))
        projector = GenerationalProjector(views.view, views.log)
        views.green.unwritable = -1
        # WHEN batches come
        first = views.project(views.order("a"), projector)
        # THEN the live generation applied them, the candidate is failed in this container
        assert views.blue.rows["a"] == views.replayed("a")
        assert (first.failures, first.candidates_failed) == ([], 1)
        views.green.unwritable = 0
        second = views.project(views.order("b"), projector)
        assert (second.failures, second.candidates_failed) == ([], 0)
        assert "b" in views.blue.rows
        # AND its failure row is written once the table takes writes again
        failure = generation_failure(views.green)
        assert failure is not None
        assert "cannot apply" in failure["reason"]

    def test_a_record_the_live_generation_failed_too_does_not_mark_the_candidate_failed(self):
        views = Views(green_in(State.CATCHING_UP))
        records = views.order("a")
        views.blue.rows["a"] = ViewRow({"not": "an order"}, 1)  # the live row is damaged
        views.green.rows["a"] = ViewRow({"not": "an order"}, 1)  # and so is the candidate's
        result = views.project(records)
        assert [f.sequence_number for f in result.failures] == [sequence_number(1)]
        assert result.candidates_failed == 0
        assert generation_failure(views.green) is None


class TestACandidateThatIsActiveNow:
    """After a switch, a container's registry may be up to its cache age old: what it takes for a candidate
    may already be the generation the queries read."""

    def test_its_failures_are_reported_not_swallowed(self):
        # GIVEN a container that read the registry before green became active
        views = Views(green_in(State.READY))
        views.cached_for_a_while()
        views.registry.write(views.registry.read().switch("green", at=AT))
        records = views.order("a")
        views.green.rows["a"] = ViewRow({"not": "an order"}, 1)  # green's row is damaged
        # WHEN a batch comes
        result = views.project(records)
        # THEN green's failure is reported (Lambda delivers it again), and green is not marked failed
        assert [f.sequence_number for f in result.failures] == [sequence_number(1)]
        assert result.failures[0].reason.startswith("green: ")
        assert result.candidates_failed == 0
        assert generation_failure(views.green) is None

    def test_a_throttled_table_is_reported_too(self):
        views = Views(green_in(State.READY))
        views.cached_for_a_while()
        views.registry.write(views.registry.read().switch("green", at=AT))
        views.green.unreadable = 1
        result = views.project(views.order("a"))
        assert [f.sequence_number for f in result.failures] == [sequence_number(0), sequence_number(1)]
        assert result.candidates_behind == 0

    def test_a_candidate_still_a_candidate_after_the_fresh_read_is_marked_failed(self):
        views = Views(green_in(State.READY))
        views.cached_for_a_while()
        records = views.order("a")
        views.green.rows["a"] = ViewRow({"not": "an order"}, 1)
        result = views.project(records)
        assert (result.failures, result.candidates_failed) == ([], 1)
        assert generation_failure(views.green) is not None


class TestTheQueries:
    def test_they_read_the_active_generation_only_and_follow_a_switch(self):
        views = Views(green_in(State.READY))
        views.blue.rows["a"] = ViewRow({"status": "pending_payment"}, 1)
        views.green.rows["a"] = ViewRow({"status": "pending_payment", "units": 3}, 1)
        active = ActiveViewStore(views.view)
        assert active.get("a") == views.blue.rows["a"]
        views.registry.write(views.registry.read().switch("green", at=AT))
        assert active.get("a") == views.green.rows["a"]
        assert active.generation == "green"
