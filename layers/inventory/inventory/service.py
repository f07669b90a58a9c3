"""The inventory application service: what the warehouse does when the order-fulfillment process manager
queues reservations, releases and commitments, and when staff receive goods, split a SKU's stock into
buckets, or ask what is in stock. It opens a SKU's stock with its configured balance the first time the SKU
is touched, derives command ids, and runs the Stock decider through the core's runner.

A SKU's stock is kept in buckets (inventory.buckets). Queued commands reach it in two steps: `bucket_for`
names the bucket a command belongs in (its order's home bucket), and `apply_to_bucket` decides a batch of
one bucket's commands together, in one commit. A bucket short of units for its batch claims what its
siblings have given it and not yet claimed, and, if that is not enough, has siblings give it more, each a
fact of the giver's own (`_claims`). Every write is one conditional commit on one stream: no transactions,
which a log replicated across regions with strong consistency does not allow."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eventcore import BatchMember, ConcurrencyError, MemberOutcome, TooManyConflictsError, fingerprint
from eventcore.messaging.inbound import MalformedMessageError
from eventcore.write.command_ids import command_fingerprint, derived_id
from inventory.buckets import bucket_id, home_bucket, plan_moves, shares
from inventory.commands import (
    CommitStock,
    MoveStockIn,
    MoveStockOut,
    OpenStock,
    ReceiveStock,
    ReleaseStock,
    ReserveStock,
    SplitStock,
)
from inventory.config import StockOpening
from inventory.errors import NotEnoughToMoveError, StockNotOpenedError, UnknownSkuError
from inventory.events import StockMovedIn, StockReservationRefused
from inventory.queued import ReceivePayload, ReleasePayload, ReservePayload, read_queued_command

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from eventcore import BatchDecision, CommandResult, DeciderRunner
    from eventcore.messaging.inbound import CommandMessage
    from inventory.commands import StockCommand
    from inventory.stock import Stock

MAX_ATTEMPTS = 8  # a bucket's batch and a sibling's move race other buckets' writers: decide again
GIVE_ATTEMPTS = 3  # a giver's commit racing its own batches: given on its caught-up state
PLAN_ROUNDS = 2  # a shortfall planned again once from a fresh read when a giver had less than read
LAYOUT_MAX_AGE = 5.0  # seconds a router trusts the layout it read (a split reaches every router this soon)


@dataclass(frozen=True, slots=True)
class StockLevels:
    """What is on hand, held for orders and available: of one bucket, or of the whole SKU."""

    on_hand: int
    reserved: int
    available: int


@dataclass(frozen=True, slots=True)
class BucketLevels:
    """A bucket's levels (counting the units in transit to it), its stream's version, and how many units its
    siblings have given it that it has not claimed yet (`in_transit`)."""

    bucket: int
    levels: StockLevels
    version: int
    in_transit: int = 0


@dataclass(frozen=True, slots=True)
class SkuStock:
    """A SKU's stock: its totals, how many buckets it is kept in now, and every bucket it has."""

    sku: str
    totals: StockLevels
    buckets: int
    by_bucket: tuple[BucketLevels, ...]


@dataclass(frozen=True, slots=True)
class StockAnswer:
    """What a staff command did to a bucket's stock: the events it recorded (none when already satisfied)."""

    stock: Stock
    version: int
    recorded: tuple[str, ...]
    replayed: bool


@dataclass(frozen=True, slots=True)
class QueuedOutcome:
    """What one queued command did in its bucket's batch: the events it recorded, or that it was a
    duplicate, or why it could not be applied (`error`: the message is failed, the others go on)."""

    command_id: str
    recorded: tuple[str, ...] = ()
    duplicate: bool = False
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class BucketAnswer:
    """A bucket's batch applied: each message's outcome in the batch's order, the units claimed from
    siblings, and the bucket's available units after."""

    outcomes: tuple[QueuedOutcome, ...]
    moved_in: int
    available: int


class InventoryService:
    def __init__(
        self,
        runner: DeciderRunner[StockCommand, Stock | None],
        initial_stock: Callable[[], Mapping[str, StockOpening]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self._initial_stock = initial_stock
        self._clock = clock
        self._new_id = new_id
        self._monotonic = monotonic
        self._layouts: dict[str, tuple[Stock, float]] = {}
        # A bucket short of units reads its siblings at once: one round trip, however many buckets.
        self._readers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="stock-siblings")
        # A split tells every bucket at once (a pool of its own: a split never waits on the readers).
        self._tellers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="stock-split")

    # -- queued commands ---------------------------------------------------------------------------------

    def bucket_for(self, message: CommandMessage) -> tuple[str, int]:
        """(sku, bucket): where a queued command is applied, its order's home bucket in the SKU's layout as
        this container last read it (at most LAYOUT_MAX_AGE seconds ago). A command a stale layout sends to
        another bucket is still applied right: every bucket knows the layout, and finds an order's earlier
        reservation in its home bucket of an earlier layout."""
        payload = read_queued_command(message)
        return payload.sku, home_bucket(payload.order_id, self._layout(payload.sku).buckets)

    def apply_to_bucket(self, sku: str, bucket: int, messages: Sequence[CommandMessage]) -> BucketAnswer:
        """Decide one bucket's queued commands together, in their order, and record them in one commit; when
        the bucket cannot serve its reservations, it claims units from its siblings first (in the same
        commit). A message that cannot be read, or that a rule refuses, has its error; the others are
        applied."""
        at = self._clock()
        outcomes: dict[int, QueuedOutcome] = {}
        members: dict[int, BatchMember[StockCommand]] = {}
        for index, message in enumerate(messages):
            try:
                command = self._read_queued(message, at)
                if command.sku != sku:
                    raise MalformedMessageError(f"a command for {command.sku} reached the stock of {sku}")
            except MalformedMessageError as error:
                outcomes[index] = QueuedOutcome(message.command_id, error=error)
                continue
            members[index] = BatchMember(command, message.command_id, fingerprint(message.payload))
        first = next(iter(messages), None)
        correlation_id = first.correlation_id if first else None
        # A receipt has no rule of the aggregate's to know it again (a reservation has: an order holds a
        # bucket once), so it is recorded on its own, where the command index recognises it for good.
        for index in [i for i, member in members.items() if isinstance(member.command, ReceiveStock)]:
            outcomes[index] = self._receive_queued(sku, bucket, members.pop(index), correlation_id)
        decided = self._decide_and_record(sku, bucket, members, correlation_id)
        outcomes |= decided.outcomes
        state = decided.state
        for index, member in members.items():
            if state is not None and _needs_earlier_layouts(member.command, outcomes[index], state):
                outcomes[index] = self._apply_in_earlier_layouts(sku, bucket, state, member)
        return BucketAnswer(
            tuple(outcomes[index] for index in range(len(messages))),
            decided.moved_in,
            state.available if state is not None else 0,
        )

    def _receive_queued(
        self, sku: str, bucket: int, member: BatchMember[StockCommand], correlation_id: str | None
    ) -> QueuedOutcome:
        result = self._handle_opened(
            sku, bucket, member.command, member.command_id, member.fingerprint, correlation_id
        )
        return QueuedOutcome(
            member.command_id, tuple(e.event_type() for e in result.events), result.duplicate
        )

    def _decide_and_record(
        self,
        sku: str,
        bucket: int,
        members: Mapping[int, BatchMember[StockCommand]],
        correlation_id: str | None,
    ) -> _Decided:
        home = bucket_id(sku, bucket)
        for attempt in range(MAX_ATTEMPTS):
            batch_id = derived_id("StockBatch", home, self._new_id())
            prepared = self.runner.decide_batch(
                home, list(members.values()), batch_id=batch_id, correlation_id=correlation_id
            )
            state = prepared.before.state
            if state is None:
                self._open_bucket(sku, bucket)
                continue
            # The layout is the bucket's own: a split since this state was read makes the commit lose.
            held = self._held_in_earlier_layouts(sku, bucket, state, members)
            deciding = {index: m for index, m in members.items() if index not in held}
            short = sum(
                event.requested
                for index, outcome in zip(members, prepared.decision.members, strict=True)
                if index in deciding
                for event in outcome.events
                if isinstance(event, StockReservationRefused)
            )
            claims: list[BatchMember[StockCommand]] = []
            if short:
                last = attempt == MAX_ATTEMPTS - 1
                claimed = self._claims(sku, bucket, state, short, batch_id, correlation_id, partial=last)
                if claimed is None:
                    continue  # a sibling changed since it was read: read again (what it gave stays owed)
                claims = claimed
            if held or claims:
                prepared = self.runner.decide_batch(
                    home, [*claims, *deciding.values()], batch_id=batch_id, correlation_id=correlation_id
                )
            try:
                self.runner.record(prepared, lost_before=attempt > 0)
            except ConcurrencyError:
                continue  # what was given stays in transit to this bucket: claimed at the next attempt
            decision = prepared.decision
            outcomes = {index: QueuedOutcome(members[index].command_id) for index in held}
            for index, outcome in zip(deciding, decision.members[len(claims) :], strict=True):
                outcomes[index] = _queued_outcome(outcome)
            moved_in = sum(
                event.quantity
                for outcome in decision.members[: len(claims)]
                for event in outcome.events
                if isinstance(event, StockMovedIn)
            )
            return _Decided(outcomes, decision.state, moved_in)
        raise TooManyConflictsError(home, MAX_ATTEMPTS)

    def _claims(
        self,
        sku: str,
        bucket: int,
        state: Stock,
        short: int,
        batch_id: str,
        correlation_id: str | None,
        *,
        partial: bool = False,
    ) -> list[BatchMember[StockCommand]] | None:
        """The claims that bring the bucket what its siblings gave it and it has not claimed, after siblings
        with units to spare gave it what it still lacks (each giving one commit on the giver's stream,
        before the claim: a crash in between leaves the units in transit, never lost, never counted
        twice). A giver whose own batches took some of its units since it was read gives what it has, and
        the rest is planned again from a fresh read of the siblings; None when even that round fell short,
        so that the batch is decided again rather than refused (`partial`, the last attempt: what could be
        had). Siblings (and the layout) are read from the log, not the memory image: a reservation refused
        for want of units found every bucket short when it was read."""
        layout = state if bucket == 0 else self.runner.latest(bucket_id(sku, 0)).state
        if layout is None:
            return []
        states = self._siblings(sku, bucket, state, layout)
        for round_ in range(PLAN_ROUNDS):
            wanted = short - sum(_owed(bucket, states).values())
            spare = {
                b: giver.available + sum(_owed(b, states).values())
                for b, giver in states.items()
                if b != bucket
            }
            moves = plan_moves(wanted, {b: units for b, units in spare.items() if units > 0}, layout.buckets)
            if wanted <= 0 or not moves:
                break  # enough, or every sibling short as read just now: the rest is refused
            complete = True
            for giver, units in moves:
                before = states[giver].sent.get(bucket, 0)
                given = self._give(sku, giver, bucket, units, states, batch_id, correlation_id)
                if given is not None:
                    states[giver] = given
                complete &= given is not None and given.sent.get(bucket, 0) - before == units
            if complete:
                break
            if round_ == PLAN_ROUNDS - 1:
                if not partial:
                    return None
                break
            if bucket != 0:
                layout = self.runner.latest(bucket_id(sku, 0)).state or layout
            states = self._siblings(sku, bucket, state, layout)
        return [
            _claim(sku, bucket, b, states[b].sent[bucket], batch_id, self._clock())
            for b in sorted(_owed(bucket, states))
        ]

    def _siblings(self, sku: str, bucket: int, state: Stock, layout: Stock) -> dict[int, Stock]:
        """Every bucket's state, read from the log at once (the bucket's own and bucket 0's as given). A
        sibling bucket 0 gave its opening share to but that never opened (a crash after the opening) is
        opened first, so its share can be given on."""
        siblings = [b for b in range(max(layout.layouts)) if b not in (0, bucket)]
        read = self._readers.map(self.runner.latest, (bucket_id(sku, b) for b in siblings))
        states = {b: aggregate.state for b, aggregate in zip(siblings, read, strict=True) if aggregate.state}
        for unopened in (b for b in siblings if b not in states and layout.sent.get(b, 0)):
            self._open_bucket(sku, unopened)
            opened = self.runner.latest(bucket_id(sku, unopened)).state
            if opened is not None:
                states[unopened] = opened
        states[0] = layout
        states[bucket] = state
        return states

    def _give(
        self,
        sku: str,
        giver: int,
        bucket: int,
        units: int,
        states: Mapping[int, Stock],
        batch_id: str,
        correlation_id: str | None,
    ) -> Stock | None:
        """Bucket `giver` gives `units` to `bucket`, or what it has left of them when its own batches took
        some since it was read: one commit on the giver's stream (with its own claims first, so units in
        transit to a bucket that takes no more reservations are passed on too). Its state after, or None
        when it had nothing to give or kept losing races for its stream (decided again on its caught-up
        state, a few times)."""
        at = self._clock()
        claims = [
            _claim(sku, giver, b, states[b].sent[giver], batch_id, at) for b in sorted(_owed(giver, states))
        ]
        for attempt in range(GIVE_ATTEMPTS):
            give = MoveStockOut(
                sku=sku,
                move_id=derived_id("Move", batch_id, str(giver)),
                to_bucket=bucket,
                quantity=units,
                at=at,
            )
            member: BatchMember[StockCommand] = BatchMember(
                give, derived_id("MoveStockOut", give.move_id, str(units)), command_fingerprint(give)
            )
            prepared = self.runner.decide_batch(
                bucket_id(sku, giver),
                [*claims, member],
                batch_id=derived_id("Give", batch_id, str(giver)),
                correlation_id=correlation_id,
            )
            refused = prepared.decision.members[-1].error
            if isinstance(refused, NotEnoughToMoveError):
                if refused.available <= 0:
                    return None
                units = refused.available  # what is left of them
                continue
            try:
                self.runner.record(prepared, lost_before=attempt > 0)
            except ConcurrencyError:
                continue
            return prepared.decision.state
        return None

    def _held_in_earlier_layouts(
        self, sku: str, bucket: int, state: Stock, members: Mapping[int, BatchMember[StockCommand]]
    ) -> set[int]:
        """The reservations whose order already holds the SKU in its home bucket of an earlier layout (a
        reservation redelivered after a split): satisfied, so no order holds the SKU twice. Only a SKU split
        since it opened has earlier layouts to look in."""
        if len(state.layouts) == 1:
            return set()
        holders: dict[int, Stock | None] = {}
        held: set[int] = set()
        for index, member in members.items():
            command = member.command
            if not isinstance(command, ReserveStock) or command.order_id in state.reservations:
                continue
            for earlier in _earlier_homes(command.order_id, bucket, state):
                if earlier not in holders:
                    holders[earlier] = self.runner.latest(bucket_id(sku, earlier)).state
                holder = holders[earlier]
                if holder is not None and command.order_id in holder.reservations:
                    held.add(index)
                    break
        return held

    def _apply_in_earlier_layouts(
        self, sku: str, bucket: int, state: Stock, member: BatchMember[StockCommand]
    ) -> QueuedOutcome:
        """A release or commit its bucket had nothing for, applied where its order's reservation was made
        before the SKU was split (the first earlier home that holds it), one command at a time: rare."""
        command = member.command
        assert isinstance(command, ReleaseStock | CommitStock)
        for earlier in _earlier_homes(command.order_id, bucket, state):
            holder = self.runner.latest(bucket_id(sku, earlier)).state
            if holder is not None and command.order_id in holder.reservations:
                result = self.runner.handle(
                    bucket_id(sku, earlier),
                    command,
                    command_id=member.command_id,
                    fingerprint=member.fingerprint,
                )
                return QueuedOutcome(
                    member.command_id, tuple(e.event_type() for e in result.events), result.duplicate
                )
        return QueuedOutcome(member.command_id)

    # -- staff -------------------------------------------------------------------------------------------

    def receive(
        self, sku: str, quantity: int, *, idempotency_key: str | None, correlation_id: str | None
    ) -> StockAnswer:
        """Staff received goods, into bucket 0 (siblings take what they need from it). The same
        Idempotency-Key is the same receipt, however often it is sent."""
        self._opening(sku)  # first: a SKU the warehouse does not keep is refused before anything
        receipt_id = idempotency_key or self._new_id()
        command = ReceiveStock(sku=sku, receipt_id=receipt_id, quantity=quantity, at=self._clock())
        command_id = derived_id("ReceiveStock", receipt_id)
        receipt_fingerprint = command_fingerprint(command)
        return _answer(self._handle_opened(sku, 0, command, command_id, receipt_fingerprint, correlation_id))

    def split(
        self, sku: str, buckets: int, *, idempotency_key: str | None, correlation_id: str | None
    ) -> StockAnswer:
        """Staff: keep the SKU's stock in `buckets` buckets from now on, while orders flow. Told to every
        other bucket the SKU has or will have first, with every layout bucket 0 has had (new buckets opened
        empty: they claim units from their siblings when their first reservations arrive), and recorded in
        bucket 0 last, only if its layouts are still those that were told: routers read the layout there,
        so no reservation is routed by a layout a bucket does not know, and two splits at once, or one after
        another cut short, leave every bucket knowing every layout. A bucket beyond the new layout takes no
        more reservations, and gives its units to the first sibling short of some. The same Idempotency-Key
        is the same split: a split cut short is finished by sending it again."""
        self._opening(sku)
        key = idempotency_key or self._new_id()
        command_id = derived_id("SplitStock", key)
        split_fingerprint = fingerprint({"sku": sku, "buckets": buckets})
        zero_id = bucket_id(sku, 0)
        for attempt in range(MAX_ATTEMPTS):
            earlier = self.runner.applied(zero_id, command_id=command_id, fingerprint=split_fingerprint)
            if earlier is not None:
                return _answer(earlier)
            layout = self._layout_now(sku)
            at = self._clock()
            after = (*(count for count in layout.layouts if count != buckets), buckets)
            self._tell_layouts(sku, after, at, correlation_id)
            split = SplitStock(sku=sku, buckets=buckets, at=at, layouts=after)
            member: BatchMember[StockCommand] = BatchMember(
                split, derived_id("SplitStock", key, "0"), split_fingerprint
            )
            zero = self.runner.decide_batch(
                zero_id,
                [member],
                batch_id=command_id,  # the commit the command index finds when the key comes again
                batch_fingerprint=split_fingerprint,
                correlation_id=correlation_id,
            )
            if zero.before.state is None or zero.before.state.layouts != layout.layouts:
                continue  # another split came first: tell every bucket again, with its layout too
            try:
                self.runner.record(zero, lost_before=attempt > 0)
            except ConcurrencyError:
                continue
            self._layouts.pop(sku, None)
            after_state = zero.decision.state
            assert after_state is not None
            return StockAnswer(after_state, zero.decision.version, _recorded(zero.decision), replayed=False)
        raise TooManyConflictsError(zero_id, MAX_ATTEMPTS)

    def _tell_layouts(
        self, sku: str, layouts: tuple[int, ...], at: datetime, correlation_id: str | None
    ) -> None:
        """Every bucket but 0 of every layout learns `layouts` (bucket 0's, the new one last), all at once:
        a bucket not opened yet opens with them (or, opened meanwhile by its first command, is told like
        the others)."""
        split = SplitStock(sku=sku, buckets=layouts[-1], at=at, layouts=layouts)
        told = fingerprint({"sku": sku, "layouts": layouts})

        def tell(bucket: int) -> None:
            aggregate_id = bucket_id(sku, bucket)
            command_id = derived_id("SplitStock", aggregate_id, told)
            try:
                self.runner.handle(
                    aggregate_id,
                    split,
                    command_id=command_id,
                    fingerprint=told,
                    correlation_id=correlation_id,
                )
                return
            except StockNotOpenedError:
                pass
            opening = _opening_member(OpenStock(sku=sku, quantity=0, at=at, bucket=bucket, layouts=layouts))
            self.runner.handle(
                aggregate_id,
                opening.command,
                command_id=opening.command_id,
                fingerprint=opening.fingerprint,
                correlation_id=correlation_id,
            )
            self.runner.handle(
                aggregate_id, split, command_id=command_id, fingerprint=told, correlation_id=correlation_id
            )

        list(self._tellers.map(tell, range(1, max(layouts))))

    def stock(self, sku: str) -> SkuStock:
        """The SKU's stock now, read from the log: totals and every bucket (a SKU never touched: its opening
        balance, spread over the buckets it will open with)."""
        opening = self._opening(sku)  # first: a SKU the warehouse does not keep is never looked up
        zero = self.runner.latest(bucket_id(sku, 0))
        if zero.state is None:
            by_bucket = tuple(
                BucketLevels(b, StockLevels(units, 0, units), 0, 0)
                for b, units in enumerate(shares(opening.quantity, opening.buckets))
            )
            return SkuStock(sku, _sum(by_bucket), opening.buckets, by_bucket)
        layout = zero.state
        aggregates = [
            zero,
            *self._readers.map(
                self.runner.latest, (bucket_id(sku, b) for b in range(1, max(layout.layouts)))
            ),
        ]
        states = {b: aggregate.state for b, aggregate in enumerate(aggregates) if aggregate.state is not None}
        levels = tuple(
            BucketLevels(
                bucket,
                _levels(aggregate.state, sum(_owed(bucket, states).values())),
                aggregate.version,
                sum(_owed(bucket, states).values()),
            )
            for bucket, aggregate in enumerate(aggregates)
        )
        # Moves between buckets read at different moments (a giver before its give, the receiver after its
        # claim) must not count units twice or lose them: every pair's sent less received, unclipped.
        in_flight = sum(
            giver.sent.get(b, 0) - (states[b].received.get(g, 0) if b in states else 0)
            for g, giver in states.items()
            for b in giver.sent
        )
        on_hand = sum(state.on_hand for state in states.values()) + in_flight
        reserved = sum(state.reserved for state in states.values())
        return SkuStock(sku, StockLevels(on_hand, reserved, on_hand - reserved), layout.buckets, levels)

    # -- opening -----------------------------------------------------------------------------------------

    def _handle_opened(
        self,
        sku: str,
        bucket: int,
        command: StockCommand,
        command_id: str,
        fingerprint: str,
        correlation_id: str | None,
    ) -> CommandResult[Stock | None]:
        """One command in a bucket, idempotent for good (the command index), the bucket opened first if it
        never was."""
        for _ in range(2):
            try:
                return self.runner.handle(
                    bucket_id(sku, bucket),
                    command,
                    command_id=command_id,
                    fingerprint=fingerprint,
                    correlation_id=correlation_id,
                )
            except StockNotOpenedError:
                self._open_bucket(sku, bucket)
        raise StockNotOpenedError(sku)

    def _layout(self, sku: str) -> Stock:
        """Bucket 0's state, read again when this container's copy is older than LAYOUT_MAX_AGE (the SKU
        opened first if it never was)."""
        seen = self._layouts.get(sku)
        if seen is not None and self._monotonic() - seen[1] < LAYOUT_MAX_AGE:
            return seen[0]
        state = self._layout_now(sku)
        self._layouts[sku] = (state, self._monotonic())
        return state

    def _layout_now(self, sku: str) -> Stock:
        """Bucket 0's state as the log has it now (the SKU opened first if it never was)."""
        for _ in range(2):
            state = self.runner.latest(bucket_id(sku, 0)).state
            if state is not None:
                return state
            self._open_bucket(sku, 0)
        raise StockNotOpenedError(sku)

    def _open_bucket(self, sku: str, bucket: int) -> None:
        """Open a bucket, once. Bucket 0 with the SKU's configured balance, giving each bucket configured its
        share in the same commit, then the other buckets, each claiming its share as it opens (one commit
        each: a bucket not opened by then opens, and claims, when its first command arrives). Another
        bucket (reached when the layout changed under a message) opens with bucket 0's layout."""
        if bucket == 0:
            opening = self._opening(sku)
            self._record_opening(sku, 0, self._opening_of_zero(sku, opening, self._clock()))
            for other in range(1, opening.buckets):
                self._open_bucket(sku, other)
            return
        layout = self.runner.latest(bucket_id(sku, 0)).state
        if layout is None:
            self._open_bucket(sku, 0)
            return
        at = self._clock()
        members = [
            _opening_member(OpenStock(sku=sku, quantity=0, at=at, bucket=bucket, layouts=layout.layouts))
        ]
        if layout.sent.get(bucket, 0):
            members.append(_claim(sku, bucket, 0, layout.sent[bucket], members[0].command_id, at))
        self._record_opening(sku, bucket, members)

    def _record_opening(self, sku: str, bucket: int, members: list[BatchMember[StockCommand]]) -> None:
        for attempt in range(MAX_ATTEMPTS):
            prepared = self.runner.decide_batch(
                bucket_id(sku, bucket), members, batch_id=members[0].command_id
            )
            try:
                self.runner.record(prepared, lost_before=attempt > 0)
            except ConcurrencyError:
                continue
            return
        raise TooManyConflictsError(bucket_id(sku, bucket), MAX_ATTEMPTS)

    def _opening_of_zero(
        self, sku: str, opening: StockOpening, at: datetime
    ) -> list[BatchMember[StockCommand]]:
        """Bucket 0's opening: the whole balance, and the moves giving each other bucket its share."""
        layouts = (opening.buckets,)
        members = [
            _opening_member(OpenStock(sku=sku, quantity=opening.quantity, at=at, bucket=0, layouts=layouts))
        ]
        for bucket, units in enumerate(shares(opening.quantity, opening.buckets)):
            if bucket and units:
                give = MoveStockOut(
                    sku=sku,
                    move_id=derived_id("Move", "opening", sku, str(bucket)),
                    to_bucket=bucket,
                    quantity=units,
                    at=at,
                )
                members.append(
                    BatchMember(give, derived_id("MoveStockOut", give.move_id), command_fingerprint(give))
                )
        return members

    def _opening(self, sku: str) -> StockOpening:
        openings = self._initial_stock()
        if sku not in openings:
            raise UnknownSkuError(sku)
        return openings[sku]

    def _read_queued(
        self, message: CommandMessage, at: datetime
    ) -> ReserveStock | ReleaseStock | CommitStock | ReceiveStock:
        payload = read_queued_command(message)
        match payload:
            case ReceivePayload():
                # A return's units back into the order's home bucket: its siblings take from it as needed.
                return ReceiveStock(
                    sku=payload.sku, receipt_id=payload.receipt_id, quantity=payload.quantity, at=at
                )
            case ReservePayload():
                return ReserveStock(
                    sku=payload.sku,
                    order_id=payload.order_id,
                    quantity=payload.quantity,
                    expires_at=payload.expires_at,
                    at=at,
                )
            case ReleasePayload():
                return ReleaseStock(sku=payload.sku, order_id=payload.order_id, reason=payload.reason, at=at)
        return CommitStock(sku=payload.sku, order_id=payload.order_id, at=at)


@dataclass(frozen=True, slots=True)
class _Decided:
    outcomes: dict[int, QueuedOutcome]
    state: Stock | None
    moved_in: int


def _owed(bucket: int, states: Mapping[int, Stock]) -> dict[int, int]:
    """What each sibling has given `bucket` that it has not claimed yet (only the siblings owing some)."""
    received = states[bucket].received if bucket in states else {}
    owed = {b: giver.sent.get(bucket, 0) - received.get(b, 0) for b, giver in states.items() if b != bucket}
    return {b: units for b, units in owed.items() if units > 0}


def _claim(
    sku: str, bucket: int, giver: int, sent_total: int, batch_id: str, at: datetime
) -> BatchMember[StockCommand]:
    """The bucket's claim of what `giver` has given it, `sent_total` units in all (its id names the total, so
    the same claim made twice is one)."""
    take = MoveStockIn(
        sku=sku,
        move_id=derived_id("Claim", batch_id, str(giver)),
        from_bucket=giver,
        sent_total=sent_total,
        at=at,
    )
    return BatchMember(
        take,
        derived_id("MoveStockIn", bucket_id(sku, bucket), str(giver), str(sent_total)),
        fingerprint({"sku": sku, "bucket": bucket, "from": giver, "sent_total": sent_total}),
    )


def _opening_member(command: OpenStock) -> BatchMember[StockCommand]:
    """A bucket's opening, once per bucket (bucket 0's id and fingerprint are those from before buckets)."""
    if command.bucket == 0:
        return BatchMember(command, derived_id("OpenStock", command.sku), fingerprint({"sku": command.sku}))
    return BatchMember(
        command,
        derived_id("OpenStock", bucket_id(command.sku, command.bucket)),
        fingerprint({"sku": command.sku, "bucket": command.bucket}),
    )


def _earlier_homes(order_id: str, bucket: int, layout: Stock) -> list[int]:
    """The order's home buckets in the SKU's earlier layouts, other than `bucket`, each once."""
    homes = [home_bucket(order_id, buckets) for buckets in layout.layouts]
    return [home for index, home in enumerate(homes) if home != bucket and home not in homes[:index]]


def _recorded(decision: BatchDecision[Stock | None]) -> tuple[str, ...]:
    return tuple(e.event_type() for m in decision.members for e in m.events)


def _needs_earlier_layouts(command: StockCommand, outcome: QueuedOutcome, layout: Stock) -> bool:
    """A release or commit that found nothing in its bucket, of a SKU split since it opened."""
    return (
        isinstance(command, ReleaseStock | CommitStock)
        and outcome.error is None
        and not outcome.recorded
        and len(layout.layouts) > 1
    )


def _queued_outcome(outcome: MemberOutcome) -> QueuedOutcome:
    return QueuedOutcome(
        outcome.command_id, tuple(e.event_type() for e in outcome.events), outcome.duplicate, outcome.error
    )


def _levels(stock: Stock | None, in_transit: int = 0) -> StockLevels:
    """A bucket's levels, counting the units given to it and not yet claimed as its own."""
    if stock is None:
        return StockLevels(in_transit, 0, in_transit)
    return StockLevels(stock.on_hand + in_transit, stock.reserved, stock.available + in_transit)


def _sum(buckets: Sequence[BucketLevels]) -> StockLevels:
    return StockLevels(
        sum(b.levels.on_hand for b in buckets),
        sum(b.levels.reserved for b in buckets),
        sum(b.levels.available for b in buckets),
    )


def _answer(result: CommandResult[Stock | None]) -> StockAnswer:
    if result.state is None:  # every command but opening needs an open stock, and opening makes one
        raise RuntimeError(f"stock {result.aggregate_id} has no state after a command")
    return StockAnswer(
        result.state, result.version, tuple(event.event_type() for event in result.events), result.duplicate
    )
