"""Rebuilding a read model without downtime: a new generation is built beside the one the queries read, caught
up, and switched to with one change of the registry, reversibly; the previous one is kept, fed, until it is
dropped on purpose. What the operator's commands (`python -m ops rebuild ...`) and the rebuild function run.

Building generation G of a view (its table empty, its registry entry absent):

1. `building`: G's table is filled from the log by a parallel scan and BatchWriteItem, 25 rows a request.
   Unconditional writes are only safe while nobody else writes the table: the projector does not feed G yet.
2. `catching_up`: the projector feeds G (conditional writes, gaps filled from the log) in every invocation
   that starts once its container has read the registry again, at most `settle` seconds later. After that
   wait, every commit made since the backfill began (a consistent scan of the keys and commit times, from
   `since` minus a clock margin) that G's rows have not reached is caught up from the log, conditionally: a
   commit is in G through the backfill, through the catch-up, or through the projector.
3. `ready`: G is level with the log and fed. `switch` makes it active; the previous active one goes to
   `standby`, still fed, so `switch` back is instant and loses nothing. `drop` stops feeding a generation
   and empties its table, so it can be built again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from eventcore.read.generations.lifecycle import GenerationError, State
from eventcore.read.generations.log_scan import Progress, streams_committed_since
from eventcore.read.generations.projector import FAILURE_KEY, generation_failure
from eventcore.read.generations.replay import replay_into
from eventcore.read.projector import Projector, load_projection

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from eventcore.read.generations.archive_scan import ArchiveSource
    from eventcore.read.generations.lifecycle import Generation, Generations
    from eventcore.read.generations.registry import GenerationRegistry
    from eventcore.read.generations.replay import RebuildReport, Replayed
    from eventcore.read.projector import Projection
    from eventcore.read.view_store import DynamoDBViewStore
    from eventcore.write.dynamodb_store import DynamoDBEventStore

Clock = Callable[[], datetime]
# How far the log writers' clocks may be behind this one's: commits stamped up to this long before the
# backfill began are looked at again by the catch-up (a few extra rows read; none missed).
CLOCK_MARGIN = timedelta(seconds=60)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """As commit times are written (microseconds, Z), so they compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ViewGenerations:
    """One generational read model, as a rebuild sees it: the log it is replayed from, a store per
    generation (tables of the same schema), its registry, and its own projection (any projection a generation
    is built with must be of the same aggregate and key)."""

    name: str
    projection: Projection
    client: DynamoDBClient
    log: DynamoDBEventStore
    stores: Mapping[str, DynamoDBViewStore]
    registry: GenerationRegistry

    def store(self, generation: str) -> DynamoDBViewStore:
        if generation not in self.stores:
            raise GenerationError(
                f"{self.name} has no generation {generation!r}; its generations are {', '.join(self.stores)}"
            )
        return self.stores[generation]


@dataclass(frozen=True, slots=True)
class GenerationStatus:
    name: str
    table: str
    state: str  # a State, or "free" for a table no generation uses
    projection: str | None
    since: str | None
    changed_at: str | None
    rows: int | None
    table_items: int  # DescribeTable's ItemCount: on AWS refreshed about every six hours
    failed: str | None = None  # "<when>: <why>" once its projector marked it failed (no longer fed)


@dataclass(frozen=True, slots=True)
class BuildReport:
    generation: str
    projection: str
    backfill: RebuildReport
    caught_up_streams: int  # streams committed to while the backfill ran that it had not reached
    caught_up_rows: int
    failed_streams: int
    ready: bool
    waited_seconds: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Switched:
    previous: str
    active: str


@dataclass(frozen=True, slots=True)
class Dropped:
    generation: str
    table: str
    was: str  # its state before the drop ("free": it was no generation, its table was only emptied)
    rows_deleted: int


def status(view: ViewGenerations) -> list[GenerationStatus]:
    generations = view.registry.read()
    found = []
    for name, store in view.stores.items():
        generation = generations.get(name)
        items = view.client.describe_table(TableName=store.table_name)["Table"].get("ItemCount", 0)
        failure = generation_failure(store) if generation else None
        found.append(
            GenerationStatus(
                name,
                store.table_name,
                generation.state.value if generation else "free",
                generation.projection if generation else None,
                generation.since if generation else None,
                generation.changed_at if generation else None,
                generation.rows if generation else None,
                int(items),
                f"{failure['failed_at']}: {failure['reason']}" if failure else None,
            )
        )
    return found


def build(
    view: ViewGenerations,
    *,
    projection: str | None = None,
    segments: int = 4,
    settle: float,
    progress: Progress = print,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    source: ArchiveSource | None = None,
) -> BuildReport:
    """Build a new generation (with `projection`, default: the active generation's) in the free table, catch
    it up and mark it ready. `settle`: seconds until every function container has read a registry change
    (their cache's max age, plus a margin). Streams that fail leave it `catching_up`: not switchable.
    With an archive `source`, the backfill reads the archive rather than scanning the log; the catch-up
    then looks back over the archive's lag too (what Firehose may still hold in its buffers)."""
    started = time.perf_counter()
    generations = view.registry.read()
    name = _free_generation(view, generations)
    projection_name = projection or generations.active.projection
    chosen = load_projection(projection_name, like=view.projection)
    store = view.store(name)
    if not store.is_empty():
        raise GenerationError(
            f"the table of generation {name} ({store.table_name}) has rows: empty it first "
            f"(rebuild drop {view.name} {name})"
        )
    began = clock()
    view.registry.write(generations.begin(name, projection_name, at=iso(began)))
    progress(f"{view.name}: building generation {name} in {store.table_name} with {projection_name}")

    replayed = replay_into(
        chosen,
        view.client,
        view.log,
        store,
        segments=segments,
        fresh=True,
        progress=progress,
        empty_checked=True,  # above, before the registry named the generation
        source=source,
    )

    generations = _expect(view.registry.read(), name, State.BUILDING)
    view.registry.write(generations.catching_up(name, at=iso(clock())))
    progress(
        f"{name} is fed by the projector now; waiting {settle:g} s until every projector container knows"
    )
    waited = time.perf_counter()
    sleep(settle)
    waited_seconds = time.perf_counter() - waited

    behind, caught_up_rows, not_caught_up = _catch_up(
        view,
        chosen,
        store,
        since=began - CLOCK_MARGIN - timedelta(seconds=source.lag_seconds if source else 0),
        backfilled=replayed,
        segments=segments,
        progress=progress,
    )
    failed = {**replayed.failed, **not_caught_up}

    failure = generation_failure(store)
    if failure is not None:  # its projector gave up on it while it was being caught up
        failed[FAILURE_KEY] = failure["reason"]
    ready = not failed
    if ready:
        generations = _expect(view.registry.read(), name, State.CATCHING_UP)
        view.registry.write(generations.ready(name, at=iso(clock()), rows=replayed.report.rows))
        progress(f"{name} is ready (level with the log, fed): switch to it with `rebuild switch {view.name}`")
    else:
        progress(
            f"{name} stays catching_up (fed, never switched to): {len(failed)} streams failed; fix them, "
            f"then `rebuild drop {view.name} {name}` and rebuild"
        )
    return BuildReport(
        name,
        projection_name,
        replayed.report,
        behind,
        caught_up_rows,
        len(failed),
        ready,
        round(waited_seconds, 3),
        round(time.perf_counter() - started, 3),
    )


def _catch_up(
    view: ViewGenerations,
    projection: Projection,
    store: DynamoDBViewStore,
    *,
    since: datetime,
    backfilled: Replayed,
    segments: int,
    progress: Progress,
) -> tuple[int, int, dict[str, str]]:
    """Every stream committed to since `since` that the backfill did not reach, caught up from the log:
    (streams behind, rows written, streams that failed with why)."""
    window = iso(since)
    recent = streams_committed_since(
        view.client,
        view.log.table_name,
        stream_prefix=f"{projection.aggregate}-",
        since=window,
        segments=segments,
        progress=progress,
    )
    behind = sorted(
        stream
        for stream, last in recent.items()
        if last > backfilled.versions.get(stream, 0) and stream not in backfilled.failed
    )
    progress(
        f"catch-up: {len(recent)} streams committed to since {window}, {len(behind)} beyond the backfill"
    )
    caught_up = Projector(projection, view.log, store).catch_up(behind, known=recent)
    failed = {f.stream_id or f.sequence_number: f.reason for f in caught_up.failures}
    for stream, reason in sorted(failed.items()):
        progress(f"stream {stream} FAILED to catch up: {reason}")
    return len(behind), caught_up.rows_written, failed


def switch(view: ViewGenerations, to: str | None = None, *, clock: Clock = utc_now) -> Switched:
    """One registry change: `to` (default: the ready or standby one) becomes active, the active one
    standby."""
    generations = view.registry.read()
    previous = generations.active.name
    switched = generations.switch(to, at=iso(clock()))
    failure = generation_failure(view.store(switched.active.name))
    if failure is not None:
        raise GenerationError(
            f"generation {switched.active.name} failed ({failure['failed_at']}: {failure['reason']}) and is "
            f"no longer fed: drop it and rebuild (rebuild drop {view.name} {switched.active.name})"
        )
    view.registry.write(switched)
    return Switched(previous, switched.active.name)


def drop(
    view: ViewGenerations,
    generation: str | None = None,
    *,
    settle: float,
    segments: int = 4,
    progress: Progress = print,
    sleep: Callable[[float], None] = time.sleep,
) -> Dropped:
    """Stop feeding `generation` (default: the one that is not active), wait until every projector
    container knows, and empty its table. A table no generation uses is only emptied (a drop cut short)."""
    generations = view.registry.read()
    name = generation if generation is not None else generations.drop_target().name
    store = view.store(name)
    current = generations.get(name)
    if current is not None:
        view.registry.write(generations.drop(name))
        progress(f"{name} is no longer fed; waiting {settle:g} s until every projector container knows")
        sleep(settle)
    else:
        progress(f"{name} is no generation of {view.name}: emptying its table {store.table_name}")
    deleted = store.clear(segments=segments, progress=progress)
    progress(f"{name}: {deleted} rows deleted from {store.table_name}")
    return Dropped(name, store.table_name, current.state.value if current else "free", deleted)


def rebuild_in_place(
    view: ViewGenerations, generation: str | None = None, *, segments: int = 4, progress: Progress = print
) -> RebuildReport:
    """Repair a fed generation (default: the active one) where it is, with its own projection: conditional
    writes, absent or older rows only, safe beside the projector. Its logic cannot change in place."""
    generations = view.registry.read()
    target = generations.active if generation is None else generations.get(generation)
    if target is None or not target.fed:
        state = "absent" if target is None else target.state.value
        raise GenerationError(
            f"generation {generation} is {state}: in place rebuilds a fed generation (active, standby, ready)"
        )
    projection = load_projection(target.projection, like=view.projection)
    progress(f"{view.name}: rebuilding generation {target.name} in place with {target.projection}")
    return replay_into(
        projection, view.client, view.log, view.store(target.name), segments=segments, progress=progress
    ).report


def _free_generation(view: ViewGenerations, generations: Generations) -> str:
    free = [name for name in view.stores if generations.get(name) is None]
    if not free:
        states = ", ".join(f"{g.name} {g.state.value}" for g in generations.by_name.values())
        other = next(g for g in generations.by_name.values() if g.state is not State.ACTIVE)
        switch_first = f"switch to it (rebuild switch {view.name}) or " if other.state is State.READY else ""
        raise GenerationError(
            f"every table of {view.name} holds a generation ({states}): {switch_first}drop the one that is "
            f"not active first (rebuild drop {view.name} {other.name})"
        )
    return free[0]


def _expect(generations: Generations, name: str, state: State) -> Generations:
    current: Generation | None = generations.get(name)
    if current is None or current.state is not state:
        found = "dropped" if current is None else current.state.value
        raise GenerationError(f"generation {name} was changed meanwhile (now {found}): this rebuild stops")
    return generations
