"""The inventory service on the in-memory store: opening balances from configuration, queued commands
decided a bucket's batch at a time, stock kept in buckets that take units from each other, staff receipts
and splits."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from eventcore import DeciderRunner, InMemoryEventStore
from eventcore.messaging.inbound import CommandMessage, MalformedMessageError
from inventory import (
    InventoryService,
    StockOpening,
    UnknownSkuError,
    bucket_id,
    home_bucket,
    stock_decider,
    stock_events,
)
from inventory.commands import MoveStockIn, MoveStockOut
from inventory.service import LAYOUT_MAX_AGE

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DEADLINE = (NOW + timedelta(minutes=5)).isoformat()
KETTLE, TEA, DROP = "SKU-KET-001", "SKU-TEA-001", "SKU-DROP-001"


class CountingStore(InMemoryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.appends = 0

    def append(self, commit):
        self.appends += 1
        super().append(commit)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def service(store) -> InventoryService:
    return InventoryService(
        DeciderRunner(stock_decider, store),
        lambda: {
            KETTLE: StockOpening(10),
            TEA: StockOpening(100),
            DROP: StockOpening(10, buckets=4),
        },
        clock=lambda: NOW,
    )


def reserve(
    order_id: str, quantity: int = 1, sku: str = KETTLE, command_id: str | None = None
) -> CommandMessage:
    return CommandMessage(
        command_type="ReserveStock",
        command_id=command_id or f"ReserveStock:{sku}:{order_id}",
        payload={"sku": sku, "order_id": order_id, "quantity": quantity, "expires_at": DEADLINE},
    )


def release(order_id: str, sku: str = KETTLE) -> CommandMessage:
    return CommandMessage(
        command_type="ReleaseStock",
        command_id=f"ReleaseStock:{sku}:{order_id}",
        payload={"sku": sku, "order_id": order_id, "reason": "order cancelled"},
    )


def commit(order_id: str, sku: str = KETTLE) -> CommandMessage:
    return CommandMessage(
        command_type="CommitStock",
        command_id=f"CommitStock:{sku}:{order_id}",
        payload={"sku": sku, "order_id": order_id},
    )


def apply(service: InventoryService, *messages: CommandMessage) -> list[tuple[str, ...]]:
    """Route each message as the router does, then apply each bucket's batch as its consumer does: what each
    message recorded, in the messages' order."""
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for index, message in enumerate(messages):
        groups[service.bucket_for(message)].append(index)
    recorded: dict[int, tuple[str, ...]] = {}
    for (sku, bucket), indexes in groups.items():
        answer = service.apply_to_bucket(sku, bucket, [messages[i] for i in indexes])
        for index, outcome in zip(indexes, answer.outcomes, strict=True):
            assert outcome.error is None, outcome.error
            recorded[index] = outcome.recorded
    return [recorded[index] for index in range(len(messages))]


def orders_homed_in(bucket: int, buckets: int, count: int, prefix: str = "o") -> list[str]:
    homed = (f"{prefix}-{i}" for i in range(10_000))
    return [order for order in homed if home_bucket(order, buckets) == bucket][:count]


class TestQueuedCommands:
    def test_the_first_command_opens_the_sku_with_its_configured_balance(self, service):
        assert apply(service, reserve("o-1", 3)) == [("StockReserved",)]
        stock = service.stock(KETTLE)
        assert stock.totals.available == 7
        assert stock.by_bucket[0].version == 2  # opened, then reserved

    def test_a_bucket_batch_is_decided_in_one_commit_in_its_order(self, service, store):
        apply(service, reserve("o-0"))
        appends = store.appends
        answer = service.apply_to_bucket(KETTLE, 0, [reserve(f"o-{i}") for i in range(1, 12)])
        assert store.appends == appends + 1
        recorded = [o.recorded for o in answer.outcomes]
        assert recorded == [("StockReserved",)] * 9 + [("StockReservationRefused",)] * 2
        assert answer.available == 0

    def test_a_redelivered_command_is_applied_once(self, service):
        apply(service, reserve("o-1", 3))
        (again,) = service.apply_to_bucket(KETTLE, 0, [reserve("o-1", 3)]).outcomes
        assert (again.duplicate, again.recorded) == (True, ())
        assert service.stock(KETTLE).totals.reserved == 3

    def test_eleven_orders_for_ten_kettles_refuse_the_eleventh(self, service):
        answers = apply(service, *(reserve(f"o-{i}") for i in range(11)))
        assert answers.count(("StockReserved",)) == 10
        assert answers[-1] == ("StockReservationRefused",)
        assert apply(service, release("o-0")) == [("StockReleased",)]
        assert service.stock(KETTLE).totals.available == 1

    def test_an_unreadable_or_misrouted_command_fails_alone(self, service):
        unknown = CommandMessage(command_type="RestockEverything", command_id="c", payload={})
        answer = service.apply_to_bucket(
            KETTLE, 0, [reserve("o-1", 0), unknown, reserve("o-2", sku=TEA), reserve("o-3")]
        )
        errors = [o.error for o in answer.outcomes]
        assert all(isinstance(e, MalformedMessageError) for e in errors[:3])
        assert "quantity" in str(errors[0])
        assert "RestockEverything" in str(errors[1])
        assert answer.outcomes[3].recorded == ("StockReserved",)

    def test_a_sku_the_warehouse_does_not_keep_is_refused(self, service):
        with pytest.raises(UnknownSkuError):
            service.bucket_for(reserve("o-1", sku="SKU-NOPE-001"))


class TestBuckets:
    def test_a_sku_configured_with_buckets_opens_its_balance_spread_over_them(self, service):
        service.bucket_for(reserve("o-1", sku=DROP))  # the first touch opens it
        stock = service.stock(DROP)
        assert stock.buckets == 4
        assert [b.levels.available for b in stock.by_bucket] == [3, 3, 2, 2]
        assert stock.totals.on_hand == 10

    def test_reservations_are_made_in_their_orders_home_buckets(self, service):
        orders = [f"o-{i}" for i in range(6)]
        apply(service, *(reserve(o, sku=DROP) for o in orders))
        stock = service.stock(DROP)
        for order in orders:
            home = stock_in(service, DROP, home_bucket(order, 4))
            assert order in home.reservations
        assert stock.totals.reserved == 6

    def test_a_bucket_short_of_units_has_a_sibling_give_them_and_claims_them_with_its_batch(
        self, service, store
    ):
        orders = orders_homed_in(1, 4, 5)  # bucket 1 holds 3
        service.bucket_for(reserve("x", sku=DROP))
        appends = store.appends
        answer = service.apply_to_bucket(DROP, 1, [reserve(o, sku=DROP) for o in orders])
        assert [o.recorded for o in answer.outcomes] == [("StockReserved",)] * 5
        # two commits, each on one stream: the giver's, then the claim with the reservations
        assert store.appends == appends + 2
        assert answer.moved_in >= 2
        given = events_of(store, bucket_id(DROP, 0), "StockMovedOut")
        claimed = events_of(store, bucket_id(DROP, 1), "StockMovedIn")
        assert given, "the richest sibling gave"
        assert sum(e.quantity for e in claimed) == answer.moved_in + 3  # + its opening share
        stock = service.stock(DROP)
        assert (stock.totals.on_hand, stock.totals.reserved) == (10, 5)
        assert all(b.in_transit == 0 for b in stock.by_bucket)

    def test_units_given_but_not_claimed_are_in_transit_counted_and_claimed_at_the_next_need(
        self, service, store
    ):
        # GIVEN bucket 0 gave 2 units to bucket 1, and the claim never came (a crash between the writes)
        service.stock(DROP)
        service.bucket_for(reserve("x", sku=DROP))
        give = MoveStockOut(sku=DROP, move_id="m-lost", to_bucket=1, quantity=2, at=NOW)
        service.runner.handle(bucket_id(DROP, 0), give, command_id="give-lost", fingerprint="f")
        # THEN the SKU still counts them, as bucket 1's, in transit
        stock = service.stock(DROP)
        assert stock.totals.on_hand == 10
        assert (stock.by_bucket[1].in_transit, stock.by_bucket[1].levels.available) == (2, 5)
        # WHEN bucket 1 needs more than it holds
        orders = orders_homed_in(1, 4, 5)
        answer = service.apply_to_bucket(DROP, 1, [reserve(o, sku=DROP) for o in orders])
        # THEN it claims what is in transit before asking anyone to give more: nothing lost, nothing twice
        assert [o.recorded for o in answer.outcomes] == [("StockReserved",)] * 5
        assert answer.moved_in == 2
        gifts_to_1 = [
            e
            for b in range(4)
            for e in events_of(store, bucket_id(DROP, b), "StockMovedOut")
            if e.to_bucket == 1
        ]
        assert len(gifts_to_1) == 2  # its opening share and the lost one: nobody had to give again
        stock = service.stock(DROP)
        assert (stock.totals.on_hand, stock.totals.reserved) == (10, 5)
        assert stock.by_bucket[1].in_transit == 0

    def test_a_sibling_that_cannot_give_what_it_was_read_to_have_makes_the_batch_decided_again(
        self, service, monkeypatch
    ):
        # GIVEN the first give fails (the giver's own batch came first, or its stream moved on)
        give, calls = service._give, []

        def first_fails(*args, **kwargs):
            calls.append(args)
            return None if len(calls) == 1 else give(*args, **kwargs)

        monkeypatch.setattr(service, "_give", first_fails)
        service.bucket_for(reserve("x", sku=DROP))
        orders = orders_homed_in(1, 4, 5)  # bucket 1 holds 3
        answer = service.apply_to_bucket(DROP, 1, [reserve(o, sku=DROP) for o in orders])
        # THEN nothing is refused for it: the batch is read and decided again, and the give made then
        assert [o.recorded for o in answer.outcomes] == [("StockReserved",)] * 5
        assert len(calls) == 2

    def test_a_claim_made_twice_claims_once(self, service, store):
        service.stock(DROP)
        service.bucket_for(reserve("x", sku=DROP))
        before = stock_in(service, DROP, 1).on_hand
        sent = stock_in(service, DROP, 0).sent[1]
        for command_id in ("claim-a", "claim-b"):  # two claims of the same total, under different ids
            claim = MoveStockIn(sku=DROP, move_id=command_id, from_bucket=0, sent_total=sent, at=NOW)
            service.runner.handle(bucket_id(DROP, 1), claim, command_id=command_id, fingerprint="f")
        assert stock_in(service, DROP, 1).on_hand == before
        assert service.stock(DROP).totals.on_hand == 10

    def test_a_reservation_is_refused_only_when_every_bucket_is_short(self, service):
        answers = apply(service, *(reserve(f"o-{i}", sku=DROP) for i in range(14)))
        assert answers.count(("StockReserved",)) == 10
        assert answers.count(("StockReservationRefused",)) == 4
        stock = service.stock(DROP)
        assert (stock.totals.available, stock.totals.reserved) == (0, 10)
        assert all(b.levels.available == 0 for b in stock.by_bucket)

    def test_released_units_in_one_bucket_serve_reservations_homed_in_another(self, service):
        apply(service, *(reserve(f"o-{i}", sku=DROP) for i in range(10)))
        cancelled = next(o for o in (f"o-{i}" for i in range(10)) if home_bucket(o, 4) != 2)
        apply(service, release(cancelled, sku=DROP))
        (late,) = orders_homed_in(2, 4, 1, prefix="late")
        assert apply(service, reserve(late, sku=DROP)) == [("StockReserved",)]
        assert service.stock(DROP).totals.available == 0

    def test_staff_split_while_orders_flow_and_releases_find_earlier_buckets(self, service):
        apply(service, *(reserve(f"o-{i}") for i in range(4)))
        answer = service.split(KETTLE, 4, idempotency_key="split-1", correlation_id=None)
        assert answer.recorded == ("StockSplit",)
        assert service.split(KETTLE, 4, idempotency_key="split-1", correlation_id=None).replayed
        # orders reserved before the split are released and committed where they were made
        moved_home = next(f"o-{i}" for i in range(4) if home_bucket(f"o-{i}", 4) != 0)
        assert apply(service, release(moved_home)) == [("StockReleased",)]
        kept = next(f"o-{i}" for i in range(4) if f"o-{i}" != moved_home)
        assert apply(service, commit(kept)) == [("StockCommitted",)]
        # a redelivered reservation of an order still holding in its earlier bucket is not held twice
        holder = next(f"o-{i}" for i in range(4) if f"o-{i}" not in (moved_home, kept))
        assert apply(service, reserve(holder, command_id="redelivered-after-the-window")) == [()]
        # new reservations go to the new buckets, which take units from bucket 0
        newcomers = orders_homed_in(3, 4, 2, prefix="new")
        assert apply(service, *(reserve(o) for o in newcomers)) == [("StockReserved",)] * 2
        stock = service.stock(KETTLE)
        assert stock.buckets == 4
        assert (stock.totals.on_hand, stock.totals.reserved) == (9, 4)
        assert stock.by_bucket[3].levels.reserved == 2


class TestSplits:
    def test_two_splits_at_once_leave_every_bucket_knowing_every_layout(self, service, monkeypatch):
        # GIVEN a SKU in 4 buckets; a split to 8 has told the buckets when another, to 2, comes and goes
        service.stock(DROP)
        tell, interrupted = service._tell_layouts, []

        def another_split_meanwhile(*args):
            tell(*args)
            if not interrupted:
                interrupted.append(True)
                service.split(DROP, 2, idempotency_key="to-2", correlation_id=None)

        monkeypatch.setattr(service, "_tell_layouts", another_split_meanwhile)
        # WHEN the split to 8 goes on
        answer = service.split(DROP, 8, idempotency_key="to-8", correlation_id=None)
        # THEN it is recorded after the other, and every bucket knows both layouts, 8 the current one
        assert answer.stock.layouts == (4, 2, 8)
        for bucket in range(1, 8):
            assert set(stock_in(service, DROP, bucket).layouts) == {4, 2, 8}, bucket
            assert stock_in(service, DROP, bucket).buckets == 8

    def test_a_split_cut_short_is_finished_by_the_next_and_no_bucket_misses_a_layout(self, service):
        # GIVEN a split to 8 that told every bucket and never reached bucket 0 (a crash)
        service.stock(DROP)
        service._tell_layouts(DROP, (4, 8), NOW, None)
        # WHEN staff split to 2, then to 8
        service.split(DROP, 2, idempotency_key="to-2", correlation_id=None)
        service.split(DROP, 8, idempotency_key="to-8", correlation_id=None)
        # THEN every bucket knows every layout bucket 0 has had
        assert stock_in(service, DROP, 0).layouts == (4, 2, 8)
        for bucket in range(1, 8):
            assert {4, 2, 8} <= set(stock_in(service, DROP, bucket).layouts), bucket


def events_of(store, aggregate_id: str, event_type: str):
    return [
        stock_events.decode(e)
        for c in store.read(f"Stock-{aggregate_id}")
        for e in c.events
        if e.event_type == event_type
    ]


def stock_in(service: InventoryService, sku: str, bucket: int):
    return service.runner.load(bucket_id(sku, bucket)).state


class TestReceipts:
    def test_a_queued_receipt_delivered_again_long_after_counts_once(self, service):
        # GIVEN a return's units received through the queue, then more commands than any window holds
        back = CommandMessage(
            command_type="ReceiveStock",
            command_id="ReceiveStock:return-1",
            payload={"sku": KETTLE, "order_id": "o-returned", "receipt_id": "return-1", "quantity": 2},
        )
        assert apply(service, back) == [("StockReceived",)]
        for i in range(140):
            apply(service, reserve(f"o-{i}"))
        on_hand = service.stock(KETTLE).totals.on_hand
        # WHEN the receipt comes again (a redelivery)
        again = service.apply_to_bucket(KETTLE, 0, [back])
        # THEN it is known for the receipt it was, and nothing is received twice
        assert again.outcomes[0].duplicate
        assert service.stock(KETTLE).totals.on_hand == on_hand == 12

    def test_a_receipt_is_recorded_once_per_idempotency_key(self, service):
        service.receive(KETTLE, 5, idempotency_key="delivery-1", correlation_id=None)
        again = service.receive(KETTLE, 5, idempotency_key="delivery-1", correlation_id=None)
        assert again.replayed
        assert service.stock(KETTLE).totals.on_hand == 15

    def test_an_unknown_or_malformed_sku_is_refused_before_anything_is_read(self, service):
        for sku in ("SKU-NOPE-001", "x" * 3000, "sku with spaces"):
            with pytest.raises(UnknownSkuError):
                service.receive(sku, 1, idempotency_key=None, correlation_id=None)
            with pytest.raises(UnknownSkuError):
                service.stock(sku)
            with pytest.raises(UnknownSkuError):
                service.split(sku, 2, idempotency_key=None, correlation_id=None)

    def test_levels_of_an_untouched_sku_are_its_opening_balance(self, service):
        stock = service.stock(TEA)
        assert (stock.totals.on_hand, stock.totals.reserved, stock.totals.available) == (100, 0, 100)
        assert [b.levels.available for b in service.stock(DROP).by_bucket] == [3, 3, 2, 2]


def test_a_router_reads_the_layout_again_once_its_copy_is_too_old(store):
    now = [0.0]
    kwargs = {"clock": lambda: NOW}
    openings = {KETTLE: StockOpening(10)}
    router = InventoryService(
        DeciderRunner(stock_decider, store), lambda: openings, monotonic=lambda: now[0], **kwargs
    )
    staff = InventoryService(DeciderRunner(stock_decider, store), lambda: openings, **kwargs)
    order = orders_homed_in(2, 4, 1)[0]
    assert router.bucket_for(reserve(order)) == (KETTLE, 0)
    staff.split(KETTLE, 4, idempotency_key=None, correlation_id=None)
    assert router.bucket_for(reserve(order)) == (KETTLE, 0)  # its copy is a moment old
    now[0] += LAYOUT_MAX_AGE
    assert router.bucket_for(reserve(order)) == (KETTLE, 2)
