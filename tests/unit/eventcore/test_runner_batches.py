"""The runner's batches: several commands of one aggregate decided in order and recorded in one commit, and
the commits of several aggregates recorded together."""

from __future__ import annotations

import pytest

from eventcore import BatchMember, ConcurrencyError, DeciderRunner, IdempotencyConflictError, fingerprint
from tests.support.counter import CeilingReachedError, Increment, counter_decider
from tests.unit.eventcore.test_runner import CountingStore, increment


def member(command_id: str, by: int = 1) -> BatchMember[Increment]:
    command = Increment(by=by)
    return BatchMember(command, command_id, fingerprint(command.model_dump()))


def test_a_batch_is_decided_in_order_and_recorded_in_one_commit():
    store = CountingStore()
    runner = DeciderRunner(counter_decider(ceiling=5), store)
    decision = runner.handle_batch("c1", [member("a", 2), member("b", 4), member("c", 3)], batch_id="batch-1")
    # "b" would pass the ceiling after "a": refused, and "c" still decided against what "a" left
    assert [len(o.events) for o in decision.members] == [1, 0, 1]
    assert isinstance(decision.members[1].error, CeilingReachedError)
    assert decision.state.value == 5
    assert decision.version == 2
    (commit,) = store.read("Counter-c1")
    assert store.appends == 1
    assert commit.command_id == "batch-1"
    assert [(m.command_id, m.first_version, m.last_version) for m in commit.members] == [
        ("a", 1, 1),
        ("c", 2, 2),
    ]


def test_members_already_applied_are_duplicates_from_the_window_or_the_log():
    store = CountingStore()
    runner = DeciderRunner(counter_decider(), store)
    runner.handle_batch("c1", [member("a"), member("b")], batch_id="batch-1")
    # a cold runner knows the members from the log
    cold = DeciderRunner(counter_decider(), store)
    decision = cold.handle_batch("c1", [member("b"), member("c"), member("c")], batch_id="batch-2")
    assert [o.duplicate for o in decision.members] == [True, False, True]
    assert decision.state.value == 3
    # and a plain command with a member's id is a duplicate too
    assert increment(cold, "c").duplicate


def test_a_member_reusing_an_id_with_other_content_is_refused_alone():
    runner = DeciderRunner(counter_decider(), CountingStore())
    runner.handle_batch("c1", [member("a", 1)], batch_id="batch-1")
    decision = runner.handle_batch("c1", [member("a", 2), member("b", 1)], batch_id="batch-2")
    assert isinstance(decision.members[0].error, IdempotencyConflictError)
    assert decision.state.value == 2


def test_a_batch_that_lost_the_race_is_decided_again_on_the_winners_state():
    store = CountingStore()
    stale = DeciderRunner(counter_decider(ceiling=4), store)
    stale.handle_batch("c1", [member("a")], batch_id="batch-1")
    other = DeciderRunner(counter_decider(ceiling=4), store)
    increment(other, "x", by=1)
    decision = stale.handle_batch("c1", [member("b"), member("c")], batch_id="batch-2")
    assert decision.state.value == 4
    assert [len(o.events) for o in decision.members] == [1, 1]
    decision = stale.handle_batch("c1", [member("d")], batch_id="batch-3")
    # the refusal held against the log: the stale image was read again first
    assert isinstance(decision.members[0].error, CeilingReachedError)


def test_a_batch_that_lost_its_race_catches_up_and_is_decided_again():
    store = CountingStore()
    runner = DeciderRunner(counter_decider(), store)
    prepared = runner.decide_batch("c1", [member("a")], batch_id="batch-1")
    increment(DeciderRunner(counter_decider(), store), "y", stream="c1")  # another writer wins version 1
    with pytest.raises(ConcurrencyError) as lost:
        runner.record(prepared)
    assert lost.value.stream_id == "Counter-c1"
    # decided again on the caught-up image, it lands after the winner
    runner.record(runner.decide_batch("c1", [member("a")], batch_id="batch-1"))
    assert runner.load("c1").state.value == 2
