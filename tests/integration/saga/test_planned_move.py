"""A planned move on moto (docs/failover.md, `python -m ops failover --planned`): two regions of the whole
saga sharing the replicated logs, both up. The active region is demoted, its command queues drain while no
region takes commands, then the other is promoted and every process resumed; and the way back, which the
split-brain guard refuses to an unplanned promotion. At no moment may two regions act.

The waits run on a fake clock: each poll's sleep advances it and lets the regions' functions run a round
(as each region's, reading the record as their containers would), so the test sees what happens between
the steps without waiting for any of it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from eventcore.regions import (
    ActiveRegion,
    ActiveRegionTable,
    PromotionRefusedError,
    RegionPassiveError,
    reset_active_region,
)
from ops.failover import RegionEnd, drain_queues, failover, planned_move, settle_seconds
from payments import payment_id_for
from tests.integration.saga.conftest import BASKET, Saga, new_customer
from tests.support.aws import create_table
from tests.support.lambdas import http_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PRIMARY, STANDBY = "eu-west-1", "eu-central-1"
FINAL = {"FulfillmentCompleted", "FulfillmentCancelled"}
SETTLE = 35.0  # the template's: ActiveRegionCacheSeconds 5 + the payments consumer's timeout 30
QUEUES = {
    "orders": "orders",
    "payments": "payments",
    "inventory": "inventory",
    "inventory-buckets": "buckets",
    "shipping": "shipping",
    "deadlines": "deadlines",
}


class Pair:
    """Both regions in this process; each runs as its region's (`as_region`) before its functions do."""

    def __init__(self, dynamodb: Any, pricing_parameters: dict, monkeypatch: pytest.MonkeyPatch, provider):
        self.record = ActiveRegionTable(
            create_table(dynamodb, "ActiveRegionRecord", "active-region"), dynamodb
        )
        self.dynamodb = dynamodb
        self.sagas = {
            PRIMARY: Saga(monkeypatch, dynamodb, provider, pricing_parameters, suffix="-primary"),
        }
        self.sagas[STANDBY] = Saga(
            monkeypatch,
            dynamodb,
            provider,
            pricing_parameters,
            suffix="-standby",
            replicated_logs=self.sagas[PRIMARY].logs,
        )
        self.reachable = {PRIMARY: True, STANDBY: True}
        self.now = 0.0
        self.acting_at_once: list[tuple[float, list[str]]] = []

    def as_region(self, region: str) -> Saga:
        reset_active_region(ActiveRegion(region, self.record, cache_seconds=0))
        return self.sagas[region]

    def end(self, region: str) -> RegionEnd:
        saga = self.sagas[region]
        return RegionEnd(
            name=region,
            dynamodb=self.dynamodb,
            sqs=saga.sqs,
            orders_log=saga.logs["Orders"],
            active_region_table=self.record.table,
            queue_urls={queue: saga.queues[ours][0] for queue, ours in QUEUES.items()},
            reachable=lambda: self.reachable[region],
        )

    def acting(self) -> list[str]:
        """The regions whose command consumers may act now."""
        found = []
        for region in (PRIMARY, STANDBY):
            try:
                ActiveRegion(region, self.record, cache_seconds=0).require_acting()
                found.append(region)
            except RegionPassiveError:
                pass
        return found

    def round(self, *regions: str) -> None:
        """A round of every function of `regions`, as each region's."""
        for region in regions:
            self.as_region(region).step()

    def clock(self) -> float:
        return self.now

    def sleeper(self, world: Callable[[], None]) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:
            self.now += seconds
            self.acting_at_once.append((self.now, self.acting()))
            world()

        return sleep

    def move(self, to: str, source: str, *, drain: float, world: Callable[[], None] = lambda: None) -> Any:
        return planned_move(
            self.end(to),
            self.end(source),
            settle=SETTLE,
            drain=drain,
            poll=1.0,
            clock=self.clock,
            sleep=self.sleeper(world),
        )


@pytest.fixture
def pair(dynamodb, pricing_parameters, personal_data_keys, monkeypatch, provider) -> Iterator[Pair]:
    pair = Pair(dynamodb, pricing_parameters, monkeypatch, provider)
    pair.record.promote(PRIMARY, seen=pair.record.read())
    yield pair
    reset_active_region(None)


def place(saga: Saga, customer: str, key: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    event = http_event("POST", "/orders", body=BASKET, customer=customer, headers={"idempotency-key": key})
    response = saga.api.lambda_handler(event, saga.context)
    return response["statusCode"], json.loads(response.get("body") or "{}"), response.get("headers") or {}


def orders_in_flight(pair: Pair, count: int) -> dict[str, str]:
    """`count` orders placed in the primary and part-way through their saga: key -> order id."""
    primary = pair.as_region(PRIMARY)
    placed = {}
    for n in range(count):
        status, order, _ = place(primary, new_customer(), f"move-{n}")
        assert status == 201, order
        placed[f"move-{n}"] = order["order_id"]
    primary.step()  # asked for; some answered, the answers not yet heard
    return placed


def commands_waiting(pair: Pair) -> int:
    """The primary's process manager hears what its logs hold and sends its next commands, which wait on
    the primary's queues, not yet applied: how many."""
    primary = pair.as_region(PRIMARY)
    for publisher in primary.publishers:
        publisher.pump()
    for feed in primary.fulfillment_feeds:
        feed.drain()
    return sum(depth(primary, queue) for queue in ("orders", "payments", "inventory", "shipping"))


def applied(saga: Saga) -> int:
    """Messages the region's command consumers were handed (a held one ends in its DLQ: checked apart)."""
    return sum(len(feed.delivered) for feed in saga.command_feeds if feed is not saga.deadlines)


def depth(saga: Saga, queue: str, dead_letters: bool = False) -> int:
    url = saga.queues[queue][1 if dead_letters else 0]
    attributes = saga.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


class TestAPlannedMove:
    def test_moves_while_both_are_up_draining_the_region_left_and_never_two_acting(self, pair, provider):
        # GIVEN orders in flight in the primary, commands of theirs on its queues, and the standby up too
        placed = orders_in_flight(pair, 4)
        assert commands_waiting(pair) > 0
        applied_before = applied(pair.sagas[PRIMARY])
        refusals: list[tuple[str, int, str, str]] = []

        def world() -> None:
            # while the move runs: a customer tries both regions, and both regions' functions run a round
            for region in (PRIMARY, STANDBY):
                status, problem, headers = place(pair.sagas[region], new_customer(), f"during-{pair.now}")
                refusals.append((region, status, headers.get("Retry-After", ""), problem.get("message", "")))
            pair.round(PRIMARY, STANDBY)

        # WHEN the operator moves the active role to the standby, waiting up to 60 s for the drain
        moved = pair.move(STANDBY, PRIMARY, drain=60, world=world)

        # THEN the primary's command queues drained before its consumers stopped, and the standby is active
        assert moved.drained, moved.left
        assert moved.left == {}
        assert moved.resumed.region == STANDBY
        assert pair.record.read().region == STANDBY
        # AND each change of the record was waited for (twice the settle: demotion, then the drain's end)
        assert moved.settle_seconds >= 2 * SETTLE
        # AND the primary applied what was on its queues while it drained (none held: its DLQs stay empty)
        assert applied(pair.sagas[PRIMARY]) > applied_before
        # AND no two regions could act at any moment, and the standby acted on nothing before its promotion
        assert all(len(regions) <= 1 for _, regions in pair.acting_at_once)
        assert all(regions in ([], [PRIMARY]) for _, regions in pair.acting_at_once)
        # AND while no region was active, both APIs refused commands with 503 + Retry-After, in the one shape
        assert {region for region, *_ in refusals} == {PRIMARY, STANDBY}
        for _region, status, retry_after, message in refusals:
            assert (status, retry_after) == (503, "1")  # Retry-After: the functions' cache (here 0: 1 s)
            assert f"moves to {STANDBY}" in message
        # AND every process in flight was resumed with its derived command ids, and ends in the standby
        assert moved.resumed.in_flight == len(placed)
        standby = pair.as_region(STANDBY)
        standby.run()
        for order_id in placed.values():
            assert FINAL & set(standby.process_events(order_id)), standby.process_events(order_id)
            assert provider.ledger[payment_id_for(order_id)].authorizations == 1
        # AND nothing of the primary's commands was left to end in its dead-letter queues
        primary = pair.sagas[PRIMARY]
        for queue in ("orders", "payments", "inventory", "buckets", "shipping"):
            assert depth(primary, queue) == 0, queue
            assert depth(primary, queue, dead_letters=True) == 0, queue

    def test_the_way_back_is_a_planned_move_too(self, pair, provider):
        # GIVEN the standby made active by a planned move, orders placed there
        pair.move(STANDBY, PRIMARY, drain=10, world=lambda: pair.round(PRIMARY))
        standby = pair.as_region(STANDBY)
        status, order, _ = place(standby, new_customer(), "after-the-move")
        assert status == 201, order
        standby.step()
        # WHEN the operator moves back with an unplanned promotion, both regions being up
        # THEN the split-brain guard refuses it, and names the planned move
        with pytest.raises(PromotionRefusedError, match="--planned"):
            failover(pair.end(PRIMARY), pair.end(STANDBY))
        # WHEN the operator moves back with --planned
        moved = pair.move(PRIMARY, STANDBY, drain=30, world=lambda: pair.round(STANDBY))
        # THEN the primary is active again, and the order placed in the standby ends there
        assert (moved.resumed.region, moved.drained) == (PRIMARY, True)
        primary = pair.as_region(PRIMARY)
        primary.run()
        assert FINAL & set(primary.process_events(order["order_id"]))
        assert provider.ledger[payment_id_for(order["order_id"])].authorizations == 1
        assert all(len(regions) <= 1 for _, regions in pair.acting_at_once)

    def test_a_drain_that_does_not_finish_is_reported_and_its_commands_resumed(self, pair):
        # GIVEN orders in flight, and the primary's consumers not running while the move waits
        placed = orders_in_flight(pair, 2)
        assert commands_waiting(pair) > 0
        # WHEN the move waits 5 s for a drain that never comes
        moved = pair.move(STANDBY, PRIMARY, drain=5)
        # THEN it says what was left, promotes all the same, and sends those commands again to the standby
        assert not moved.drained
        assert moved.left
        assert all(count > 0 for count in moved.left.values())
        assert 5 <= moved.drain_seconds < 6
        assert moved.resumed.region == STANDBY
        assert moved.resumed.in_flight == len(placed)
        assert moved.resumed.by_type["RequestPayment"] == len(placed)

    def test_without_a_drain_the_region_left_stops_at_once(self, pair):
        moved = pair.move(STANDBY, PRIMARY, drain=0)
        assert moved.drain_seconds == 0
        assert moved.settle_seconds >= SETTLE
        assert pair.acting_at_once
        assert all(regions == [] for _, regions in pair.acting_at_once)
        assert pair.record.read().region == STANDBY


class TestRefusals:
    def test_a_move_to_the_active_region(self, pair):
        with pytest.raises(PromotionRefusedError, match=f"{PRIMARY} is already the active region"):
            pair.move(PRIMARY, STANDBY, drain=0)

    def test_a_move_from_an_active_region_that_does_not_answer(self, pair):
        # GIVEN the primary cut
        pair.reachable[PRIMARY] = False
        # THEN a planned move is refused, pointing at the unplanned failover, and nothing was written
        with pytest.raises(PromotionRefusedError, match="without --planned") as refused:
            pair.move(STANDBY, PRIMARY, drain=0)
        assert f"{PRIMARY} is active and does not answer" in str(refused.value)
        assert pair.record.read().region == PRIMARY
        assert pair.record.read().epoch == 1

    def test_a_move_when_no_region_is_active(self, dynamodb):
        record = ActiveRegionTable(create_table(dynamodb, "ActiveRegionRecord", "active-region"), dynamodb)
        to = RegionEnd(STANDBY, dynamodb, None, "log", record.table, {}, reachable=lambda: True)
        with pytest.raises(PromotionRefusedError, match="no region is active"):
            planned_move(to, to.unreachable(PRIMARY), settle=0, drain=0)

    def test_an_unplanned_promotion_while_a_planned_move_drains_a_reachable_region(self, pair):
        pair.record.demote(STANDBY, seen=pair.record.read(), draining=True)
        with pytest.raises(PromotionRefusedError, match="is draining region"):
            failover(pair.end(STANDBY), pair.end(PRIMARY))


def test_an_interrupted_move_is_taken_up_where_it_stopped(pair):
    # GIVEN a move demoted the primary, then the operator's machine went away
    pair.record.demote(STANDBY, seen=pair.record.read(), draining=True)
    # WHEN the operator runs the planned move again
    moved = pair.move(STANDBY, PRIMARY, drain=10, world=lambda: pair.round(PRIMARY))
    # THEN it drains, stops the drain and promotes, from where the record was
    assert (moved.drained, moved.resumed.region) == (True, STANDBY)
    assert pair.record.read().epoch == 4


def test_the_settle_is_the_cache_and_the_longest_queue_consumer(monkeypatch):
    from ops.target import Target
    from ops.template import shape_of_template

    target = Target("orders", shape_of_template(), {}, PRIMARY, True, None)
    assert settle_seconds(target) == SETTLE  # the template's default cache (5 s) and payments' 30 s
    target.parameters["ActiveRegionCacheSeconds"] = "2"
    assert settle_seconds(target) == 32


def test_the_drain_believes_empty_queues_only_once_they_have_read_empty_for_a_quiet_while():
    # GIVEN a queue that reads empty, then holds a message from 10 s to 20 s (SQS's counts lag its producers)
    now = [0.0]

    class Counts:
        def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
            held = 1 if 10 <= now[0] < 20 else 0
            return {"Attributes": {"ApproximateNumberOfMessages": str(held)}}

    region = RegionEnd(PRIMARY, None, Counts(), "log", "record", {"orders": "queue-url"})

    def sleep(seconds: float) -> None:
        now[0] += seconds

    # WHEN the drain polls every 5 s, believing 60 s of empty reads, within 200 s
    left = drain_queues(region, until=200, clock=lambda: now[0], sleep=sleep, poll=5, quiet=60)
    # THEN it is drained once the queue has read empty for 60 s after the message left, not before
    assert left == {}
    assert now[0] == 80
    # AND at a deadline before that, the last read is what it reports
    now[0] = 0.0
    assert drain_queues(region, until=15, clock=lambda: now[0], sleep=sleep, poll=5, quiet=60) == {
        "orders": 1
    }
