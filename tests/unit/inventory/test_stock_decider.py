"""The Stock decider: given past events, when a command, then new events or a refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventcore import EventNotApplicableError, RecordedEvent
from inventory import (
    CommitStock,
    MoveStockIn,
    MoveStockOut,
    NotEnoughToMoveError,
    OpenStock,
    ReceiveStock,
    ReleaseStock,
    ReservationMismatchError,
    ReserveStock,
    SplitStock,
    StockCommitted,
    StockMovedIn,
    StockMovedOut,
    StockNotOpenedError,
    StockOpened,
    StockReceived,
    StockReleased,
    StockReservationRefused,
    StockReserved,
    StockSplit,
    stock_decider,
    stock_events,
)
from tests.support.deciders import DeciderSpec

SKU = "SKU-KET-001"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
T1, T2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
DEADLINE = T0 + timedelta(minutes=5)

spec = DeciderSpec(stock_decider)
opened = StockOpened(sku=SKU, quantity=10, opened_at=T0)


def reserve(order_id: str, quantity: int = 1, at: datetime = T1) -> ReserveStock:
    return ReserveStock(sku=SKU, order_id=order_id, quantity=quantity, expires_at=DEADLINE, at=at)


def reserved(order_id: str, quantity: int = 1, at: datetime = T1) -> StockReserved:
    return StockReserved(sku=SKU, order_id=order_id, quantity=quantity, reserved_at=at)


class TestOpenStock:
    def test_the_first_opening_records_the_balance(self):
        state = spec.given().when(OpenStock(sku=SKU, quantity=10, at=T0)).then(opened)
        assert state is not None
        assert (state.on_hand, state.available) == (10, 10)

    def test_opening_again_changes_nothing_even_with_another_balance(self):
        spec.given(opened).when(OpenStock(sku=SKU, quantity=99, at=T1)).then()

    def test_nothing_else_before_the_opening(self):
        spec.given().when(reserve("o-1")).then_raises(StockNotOpenedError)


class TestReserveStock:
    def test_available_stock_is_held_for_the_order(self):
        state = spec.given(opened).when(reserve("o-1", 3)).then(reserved("o-1", 3))
        assert state is not None
        assert (state.on_hand, state.reserved, state.available) == (10, 3, 7)

    def test_more_than_is_available_is_refused_and_nothing_is_held(self):
        state = (
            spec.given(opened, reserved("o-1", 8))
            .when(reserve("o-2", 3))
            .then(StockReservationRefused(sku=SKU, order_id="o-2", requested=3, available=2, refused_at=T1))
        )
        assert state is not None
        assert state.reserved == 8

    def test_an_order_holds_a_sku_once_however_often_it_asks(self):
        spec.given(opened, reserved("o-1", 2)).when(reserve("o-1", 2, at=T2)).then()

    def test_the_same_order_asking_for_another_quantity_is_a_broken_contract(self):
        spec.given(opened, reserved("o-1", 2)).when(reserve("o-1", 3)).then_raises(ReservationMismatchError)

    def test_a_request_read_after_its_deadline_is_ignored(self):
        spec.given(opened).when(reserve("o-1", at=DEADLINE + timedelta(seconds=1))).then()

    def test_the_last_units_go_to_the_first_asker(self):
        given = spec.given(opened, reserved("o-1", 9))
        given.when(reserve("o-2", 1)).then(reserved("o-2", 1))


class TestReleaseAndCommit:
    def test_a_release_gives_back_what_the_order_held(self):
        state = (
            spec.given(opened, reserved("o-1", 4))
            .when(ReleaseStock(sku=SKU, order_id="o-1", reason="order cancelled", at=T2))
            .then(
                StockReleased(sku=SKU, order_id="o-1", quantity=4, reason="order cancelled", released_at=T2)
            )
        )
        assert state is not None
        assert state.available == 10

    def test_releasing_what_an_order_does_not_hold_changes_nothing(self):
        release = ReleaseStock(sku=SKU, order_id="o-1", reason="order cancelled", at=T2)
        spec.given(opened).when(release).then()
        released = StockReleased(sku=SKU, order_id="o-1", quantity=1, reason="x", released_at=T1)
        spec.given(opened, reserved("o-1"), released).when(release).then()

    def test_a_commit_takes_the_held_units_off_hand(self):
        state = (
            spec.given(opened, reserved("o-1", 4))
            .when(CommitStock(sku=SKU, order_id="o-1", at=T2))
            .then(StockCommitted(sku=SKU, order_id="o-1", quantity=4, committed_at=T2))
        )
        assert state is not None
        assert (state.on_hand, state.reserved, state.available) == (6, 0, 6)

    def test_committing_twice_commits_once(self):
        committed = StockCommitted(sku=SKU, order_id="o-1", quantity=4, committed_at=T2)
        spec.given(opened, reserved("o-1", 4), committed).when(
            CommitStock(sku=SKU, order_id="o-1", at=T2)
        ).then()


class TestReceiveStock:
    def test_received_goods_are_on_hand(self):
        state = (
            spec.given(opened)
            .when(ReceiveStock(sku=SKU, receipt_id="r-1", quantity=5, at=T1))
            .then(StockReceived(sku=SKU, receipt_id="r-1", quantity=5, received_at=T1))
        )
        assert state is not None
        assert state.on_hand == 15


class TestBuckets:
    def test_bucket_zero_keeps_the_layout_and_every_layout_it_had(self):
        state = (
            spec.given(StockOpened(sku=SKU, quantity=10, opened_at=T0, bucket=0, layouts=(4,)))
            .when(SplitStock(sku=SKU, buckets=8, at=T1))
            .then(StockSplit(sku=SKU, buckets=8, previous=4, split_at=T1))
        )
        assert state is not None
        assert (state.buckets, state.layouts) == (8, (4, 8))
        spec.given(opened, StockSplit(sku=SKU, buckets=8, previous=1, split_at=T1)).when(
            SplitStock(sku=SKU, buckets=8, at=T2)
        ).then()

    def test_a_split_back_to_an_earlier_layout_makes_it_current_again(self):
        state = (
            spec.given(StockOpened(sku=SKU, quantity=0, opened_at=T0, bucket=3, layouts=(4, 8)))
            .when(SplitStock(sku=SKU, buckets=4, at=T1))
            .then(StockSplit(sku=SKU, buckets=4, previous=8, split_at=T1))
        )
        assert state is not None
        assert (state.buckets, state.layouts) == (4, (8, 4))

    def test_a_bucket_told_of_layouts_it_missed_learns_each_and_the_current_one_last(self):
        # GIVEN a bucket that knows (4, 8) (a split to 8 that never reached bucket 0), bucket 0 at (4, 2, 8)
        knows = StockOpened(sku=SKU, quantity=0, opened_at=T0, bucket=5, layouts=(4, 8))
        told = SplitStock(sku=SKU, buckets=8, at=T1, layouts=(4, 2, 8))
        state = (
            spec.given(knows)
            .when(told)
            .then(
                StockSplit(sku=SKU, buckets=2, previous=8, split_at=T1),
                StockSplit(sku=SKU, buckets=8, previous=2, split_at=T1),
            )
        )
        assert state is not None
        assert (state.buckets, set(state.layouts)) == (8, {4, 2, 8})
        # told again: nothing new
        spec.given(knows, *stock_decider.decide(told, stock_decider.fold([knows], None))).when(told).then()

    def test_a_bucket_gives_only_what_is_available(self):
        out = MoveStockOut(sku=SKU, move_id="m-1", to_bucket=2, quantity=9, at=T1)
        state = (
            spec.given(opened, reserved("o-1"))
            .when(out)
            .then(StockMovedOut(sku=SKU, move_id="m-1", to_bucket=2, quantity=9, moved_at=T1))
        )
        assert state is not None
        assert (state.on_hand, state.available) == (1, 0)
        spec.given(opened, reserved("o-1", 2)).when(out).then_raises(NotEnoughToMoveError)

    def test_units_moved_in_are_on_hand(self):
        state = (
            spec.given(StockOpened(sku=SKU, quantity=0, opened_at=T0, bucket=1))
            .when(MoveStockIn(sku=SKU, move_id="m-1", from_bucket=0, sent_total=3, at=T1))
            .then(StockMovedIn(sku=SKU, move_id="m-1", from_bucket=0, quantity=3, moved_at=T1))
        )
        assert state is not None
        assert (state.available, state.received) == (3, {0: 3})

    def test_a_claim_takes_only_what_was_given_and_not_claimed_yet(self):
        empty = StockOpened(sku=SKU, quantity=0, opened_at=T0, bucket=1)
        claimed = StockMovedIn(sku=SKU, move_id="m-1", from_bucket=0, quantity=3, moved_at=T1)
        claim = MoveStockIn(sku=SKU, move_id="m-2", from_bucket=0, sent_total=5, at=T1)
        state = (
            spec.given(empty, claimed)
            .when(claim)
            .then(StockMovedIn(sku=SKU, move_id="m-2", from_bucket=0, quantity=2, moved_at=T1))
        )
        assert state is not None
        assert (state.on_hand, state.received) == (5, {0: 5})
        # a claim of a total already claimed (again, or read staler) records nothing
        stale = MoveStockIn(sku=SKU, move_id="m-3", from_bucket=0, sent_total=2, at=T1)
        spec.given(empty, claimed).when(stale).then()

    def test_a_bucket_counts_what_it_gave_each_sibling(self):
        state = stock_decider.fold(
            [
                opened,
                StockMovedOut(sku=SKU, move_id="m-1", to_bucket=2, quantity=3, moved_at=T1),
                StockMovedOut(sku=SKU, move_id="m-2", to_bucket=2, quantity=1, moved_at=T1),
            ],
            None,
        )
        assert state is not None
        assert (state.on_hand, state.sent) == (6, {2: 4})

    def test_an_opening_of_version_one_is_read_as_the_one_bucket(self):
        recorded = RecordedEvent(
            "e", "StockOpened", 1, f'{{"sku":"{SKU}","quantity":10,"opened_at":"{T0.isoformat()}"}}', "x"
        )
        assert stock_events.decode(recorded) == opened


class TestEvolve:
    def test_a_second_opening_is_a_broken_log(self):
        with pytest.raises(EventNotApplicableError, match="StockOpened"):
            stock_decider.fold([opened, opened], None)

    def test_a_reservation_before_the_opening_is_a_broken_log(self):
        with pytest.raises(EventNotApplicableError, match="StockReserved"):
            stock_decider.fold([reserved("o-1")], None)

    def test_state_survives_a_snapshot_round_trip(self):
        state = stock_decider.fold([opened, reserved("o-1", 2), reserved("o-2", 1)], None)
        assert stock_decider.load_state(stock_decider.dump_state(state)) == state

    def test_every_event_round_trips_through_the_registry(self):
        moved = StockMovedIn(sku=SKU, move_id="m", from_bucket=1, quantity=2, moved_at=T1)
        for event in (
            opened,
            reserved("o-1"),
            moved,
            StockSplit(sku=SKU, buckets=2, previous=1, split_at=T1),
        ):
            recorded = stock_events.encode(event, event_id="e", recorded_at="2026-11-26T10:00:00Z")
            assert stock_events.decode(recorded) == event


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["reserve", "release", "commit", "receive"]),
            st.sampled_from([f"o-{i}" for i in range(6)]),
            st.integers(min_value=1, max_value=4),
        ),
        max_size=60,
    )
)
def test_stock_is_never_held_beyond_what_is_on_hand(steps):
    # GIVEN any sequence of commands, each decided on the state the earlier ones left
    state = stock_decider.fold([opened], None)
    for kind, order_id, quantity in steps:
        match kind:
            case "reserve":
                command = ReserveStock(
                    sku=SKU, order_id=order_id, quantity=quantity, expires_at=DEADLINE, at=T1
                )
            case "release":
                command = ReleaseStock(sku=SKU, order_id=order_id, reason="cancelled", at=T1)
            case "commit":
                command = CommitStock(sku=SKU, order_id=order_id, at=T1)
            case _:
                command = ReceiveStock(sku=SKU, receipt_id=order_id, quantity=quantity, at=T1)
        try:
            state = stock_decider.fold(stock_decider.decide(command, state), state)
        except ReservationMismatchError:
            continue
        # THEN nothing is ever promised that is not on hand, and no order holds a SKU twice
        assert state is not None
        assert 0 <= state.reserved <= state.on_hand
        assert state.available >= 0
        assert all(held > 0 for held in state.reservations.values())
