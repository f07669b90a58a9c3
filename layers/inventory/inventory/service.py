"""The inventory application service: what the warehouse does when the order-fulfillment process manager
queues reservations, releases and commitments, and when staff receive goods, split a SKU's stock into
buckets, or ask what is in stock. It opens a SKU's stock with its configured balance the first time the SKU
is touched, derives command ids, and runs the Stock decider through the core's runner.

A SKU's stock is kept in buckets (inventory.buckets). Queued commands reach it in two steps: `bucket_for`
names the bucket a command belongs in (its order's home bucket), and `apply_to_bucket` decides a batch of
one bucket's commands together, in one commit. A bucket short of units for its batch takes them from its
siblings in the same transaction as the batch's reservations (`_take_from_siblings`)."""

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
from inventory.errors import StockNotOpenedError, UnknownSkuError
from inventory.events import StockReservationRefused
from inventory.queued import ReceivePayload, ReleasePayload, ReservePayload, read_queued_command

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from eventcore import BatchDecision, CommandResult, DeciderRunner, PreparedBatch
    from eventcore.messaging.inbound import CommandMessage
    from inventory.commands import StockCommand
    from inventory.stock import Stock

MAX_ATTEMPTS = 8  # a bucket's batch and a sibling's move race other buckets' writers: decide again
LAYOUT_MAX_AGE = 5.0  # seconds a router trusts the layout it read (a split reaches every router this soon)


@dataclass(frozen=True, slots=True)
class StockLevels:
    """What is on hand, held for orders and available: of one bucket, or of the whole SKU."""

    on_hand: int
    reserved: int
    available: int


@dataclass(frozen=True, slots=True)
class BucketLevels:
    bucket: int
    levels: StockLevels
    version: int


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
    """A bucket's batch applied: each message's outcome in the batch's order, the units taken from
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
        the bucket cannot serve its reservations, units come from its siblings in the same transaction. A
        message that cannot be read, or that a rule refuses, has its error; the others are applied."""
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
        decided = self._decide_and_record(sku, bucket, members, first.correlation_id if first else None)
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
            if held:
                prepared = self.runner.decide_batch(
                    home, list(deciding.values()), batch_id=batch_id, correlation_id=correlation_id
                )
            short = sum(
                event.requested
                for outcome in prepared.decision.members
                for event in outcome.events
                if isinstance(event, StockReservationRefused)
            )
            moves = self._plan_taking(sku, bucket, short) if short else []
            batches = [prepared]
            if moves:
                taken = self._taking(sku, bucket, moves, list(deciding.values()), batch_id, correlation_id)
                if taken is None:
                    continue  # a sibling changed since it was read: read again
                batches = taken
            try:
                self.runner.record(batches, lost_before=attempt > 0)
            except ConcurrencyError:
                continue
            decision = batches[0].decision
            outcomes = {index: QueuedOutcome(members[index].command_id) for index in held}
            for index, outcome in zip(deciding, decision.members[len(moves) :], strict=True):
                outcomes[index] = _queued_outcome(outcome)
            return _Decided(outcomes, decision.state, sum(units for _, units in moves))
        raise TooManyConflictsError(home, MAX_ATTEMPTS)

    def _plan_taking(self, sku: str, bucket: int, short: int) -> list[tuple[int, int]]:
        """What to take from which sibling. Siblings (and the layout) are read from the log, not the memory
        image: a reservation refused for want of units found every bucket short when it was read."""
        layout = self.runner.latest(bucket_id(sku, 0)).state
        if layout is None:
            return []
        siblings = [b for b in range(max(layout.layouts)) if b not in (0, bucket)]
        states = dict(
            zip(
                siblings,
                self._readers.map(self.runner.latest, (bucket_id(sku, b) for b in siblings)),
                strict=True,
            )
        )
        available = {
            b: aggregate.state.available for b, aggregate in states.items() if aggregate.state is not None
        }
        if bucket != 0:
            available[0] = layout.available
        return plan_moves(short, {b: units for b, units in available.items() if units > 0}, layout.buckets)

    def _taking(
        self,
        sku: str,
        bucket: int,
        moves: list[tuple[int, int]],
        members: list[BatchMember[StockCommand]],
        batch_id: str,
        correlation_id: str | None,
    ) -> list[PreparedBatch[Stock | None]] | None:
        """The batches recording the moves into the bucket with its commands (the bucket's batch first, its
        move-ins before its commands), or None when a sibling no longer has what it was read to have."""
        at = self._clock()
        move_ins: list[BatchMember[StockCommand]] = []
        donors: list[PreparedBatch[Stock | None]] = []
        for donor, units in moves:
            give, take = _move(sku, derived_id("Move", batch_id, str(donor)), donor, bucket, units, at)
            move_ins.append(take)
            prepared = self.runner.decide_batch(
                bucket_id(sku, donor), [give], batch_id=batch_id, correlation_id=correlation_id
            )
            if prepared.decision.members[0].error is not None:
                return None
            donors.append(prepared)
        home = self.runner.decide_batch(
            bucket_id(sku, bucket), [*move_ins, *members], batch_id=batch_id, correlation_id=correlation_id
        )
        return [home, *donors]

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
        return self._handle_in_bucket_zero(
            command,
            command_id=derived_id("ReceiveStock", receipt_id),
            fingerprint=command_fingerprint(command),
            correlation_id=correlation_id,
        )

    def split(
        self, sku: str, buckets: int, *, idempotency_key: str | None, correlation_id: str | None
    ) -> StockAnswer:
        """Staff: keep the SKU's stock in `buckets` buckets from now on, while orders flow. Recorded in every
        bucket the SKU has, together (new buckets opened empty: they take units from their siblings when their
        first reservations arrive; a bucket beyond the new layout takes no more reservations, and gives its
        units to the first sibling short of some). The same Idempotency-Key is the same split."""
        self._opening(sku)
        key = idempotency_key or self._new_id()
        command_id = derived_id("SplitStock", key)
        split_fingerprint = fingerprint({"sku": sku, "buckets": buckets})
        zero_id = bucket_id(sku, 0)
        for attempt in range(MAX_ATTEMPTS):
            earlier = self.runner.applied(zero_id, command_id=command_id, fingerprint=split_fingerprint)
            if earlier is not None:
                return _answer(earlier)
            at = self._clock()
            split = SplitStock(sku=sku, buckets=buckets, at=at)
            zero = self.runner.decide_batch(
                zero_id,
                [BatchMember(split, derived_id("SplitStock", key, "0"), split_fingerprint)],
                batch_id=command_id,  # the commit the command index finds when the key comes again
                batch_fingerprint=split_fingerprint,
                correlation_id=correlation_id,
            )
            layout = zero.before.state
            if layout is None:
                self._open_bucket(sku, 0)
                continue
            after = zero.decision.state
            assert after is not None
            batches = [zero]
            for bucket in range(1, max(max(layout.layouts), buckets)):
                told: StockCommand = (
                    SplitStock(sku=sku, buckets=buckets, at=at)
                    if bucket < max(layout.layouts)
                    else OpenStock(sku=sku, quantity=0, at=at, bucket=bucket, layouts=after.layouts)
                )
                member = BatchMember(told, derived_id("SplitStock", key, str(bucket)), split_fingerprint)
                batches.append(
                    self.runner.decide_batch(
                        bucket_id(sku, bucket), [member], batch_id=command_id, correlation_id=correlation_id
                    )
                )
            try:
                self.runner.record(batches, lost_before=attempt > 0)
            except ConcurrencyError:
                continue
            self._layouts.pop(sku, None)
            return StockAnswer(after, zero.decision.version, _recorded(zero.decision), replayed=False)
        raise TooManyConflictsError(zero_id, MAX_ATTEMPTS)

    def stock(self, sku: str) -> SkuStock:
        """The SKU's stock now, read from the log: totals and every bucket (a SKU never touched: its opening
        balance, spread over the buckets it will open with)."""
        opening = self._opening(sku)  # first: a SKU the warehouse does not keep is never looked up
        zero = self.runner.latest(bucket_id(sku, 0))
        if zero.state is None:
            by_bucket = tuple(
                BucketLevels(b, StockLevels(units, 0, units), 0)
                for b, units in enumerate(shares(opening.quantity, opening.buckets))
            )
            return SkuStock(sku, _sum(by_bucket), opening.buckets, by_bucket)
        layout = zero.state
        levels = [BucketLevels(0, _levels(layout), zero.version)]
        others = self._readers.map(
            self.runner.latest, (bucket_id(sku, b) for b in range(1, max(layout.layouts)))
        )
        for bucket, aggregate in enumerate(others, start=1):
            state = aggregate.state
            levels.append(
                BucketLevels(bucket, _levels(state) if state else StockLevels(0, 0, 0), aggregate.version)
            )
        return SkuStock(sku, _sum(levels), layout.buckets, tuple(levels))

    # -- opening -----------------------------------------------------------------------------------------

    def _handle_in_bucket_zero(
        self,
        command: ReceiveStock | SplitStock,
        *,
        command_id: str,
        fingerprint: str,
        correlation_id: str | None,
    ) -> StockAnswer:
        for _ in range(2):
            try:
                result = self.runner.handle(
                    command.sku,
                    command,
                    command_id=command_id,
                    fingerprint=fingerprint,
                    correlation_id=correlation_id,
                )
            except StockNotOpenedError:
                self._open_bucket(command.sku, 0)
                continue
            return _answer(result)
        raise StockNotOpenedError(command.sku)

    def _layout(self, sku: str) -> Stock:
        """Bucket 0's state, read again when this container's copy is older than LAYOUT_MAX_AGE (the SKU
        opened first if it never was)."""
        seen = self._layouts.get(sku)
        if seen is not None and self._monotonic() - seen[1] < LAYOUT_MAX_AGE:
            return seen[0]
        for _ in range(2):
            state = self.runner.latest(bucket_id(sku, 0)).state
            if state is not None:
                self._layouts[sku] = (state, self._monotonic())
                return state
            self._open_bucket(sku, 0)
        raise StockNotOpenedError(sku)

    def _open_bucket(self, sku: str, bucket: int) -> None:
        """Open a bucket, once. Bucket 0 with the SKU's configured balance, spread at once over the number of
        buckets configured (one transaction: every bucket's opening and the moves); another bucket (only
        reached when the layout changed under a message) empty, with bucket 0's layout."""
        opening = self._opening(sku)
        for attempt in range(MAX_ATTEMPTS):
            at = self._clock()
            if bucket == 0:
                batches = self._opening_batches(sku, opening, at)
            else:
                layout = self._layout(sku)
                command = OpenStock(sku=sku, quantity=0, at=at, bucket=bucket, layouts=layout.layouts)
                member = _opening_member(command)
                batches = [
                    self.runner.decide_batch(bucket_id(sku, bucket), [member], batch_id=member.command_id)
                ]
            try:
                self.runner.record(batches, lost_before=attempt > 0)
            except ConcurrencyError:
                continue
            return
        raise TooManyConflictsError(bucket_id(sku, bucket), MAX_ATTEMPTS)

    def _opening_batches(
        self, sku: str, opening: StockOpening, at: datetime
    ) -> list[PreparedBatch[Stock | None]]:
        layouts = (opening.buckets,)
        open_zero = _opening_member(
            OpenStock(sku=sku, quantity=opening.quantity, at=at, bucket=0, layouts=layouts)
        )
        gives: list[BatchMember[StockCommand]] = [open_zero]
        others: list[PreparedBatch[Stock | None]] = []
        for bucket, units in enumerate(shares(opening.quantity, opening.buckets)):
            if bucket == 0:
                continue
            members = [_opening_member(OpenStock(sku=sku, quantity=0, at=at, bucket=bucket, layouts=layouts))]
            if units:
                give, take = _move(sku, derived_id("Move", "opening", sku, str(bucket)), 0, bucket, units, at)
                gives.append(give)
                members.append(take)
            others.append(
                self.runner.decide_batch(bucket_id(sku, bucket), members, batch_id=open_zero.command_id)
            )
        zero = self.runner.decide_batch(bucket_id(sku, 0), gives, batch_id=open_zero.command_id)
        if zero.commit is None:
            return [zero]  # opened already: its buckets with it
        return [zero, *others]

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


def _move(
    sku: str, move_id: str, donor: int, bucket: int, units: int, at: datetime
) -> tuple[BatchMember[StockCommand], BatchMember[StockCommand]]:
    """A move's two commands: the donor's giving and the bucket's taking, to be recorded together."""
    give = MoveStockOut(sku=sku, move_id=move_id, to_bucket=bucket, quantity=units, at=at)
    take = MoveStockIn(sku=sku, move_id=move_id, from_bucket=donor, quantity=units, at=at)
    return (
        BatchMember(give, derived_id("MoveStockOut", move_id), command_fingerprint(give)),
        BatchMember(take, derived_id("MoveStockIn", move_id), command_fingerprint(take)),
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


def _levels(stock: Stock) -> StockLevels:
    return StockLevels(stock.on_hand, stock.reserved, stock.available)


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
