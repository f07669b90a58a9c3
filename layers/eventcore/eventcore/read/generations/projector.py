"""A read model kept in blue/green generations, as the functions use it: the projector feeds every generation
the registry says is fed (each with the projection it was built with), and the queries read the active one
only, so a generation being built never answers a query. Declared per view by three environment variables:

- `VIEW_TABLES`: JSON, generation name -> table name (`{"blue": "...", "green": "..."}`);
- `VIEW_GENERATIONS`: the SSM parameter holding the view's generations registry;
- `VIEW_GENERATIONS_MAX_AGE`: seconds a container keeps the registry before reading it again (default 5).

Only the active generation is live: the live generation's records never fail because of a candidate
(catching up, ready, or the standby kept for a switch back), which is what building a new generation beside
the live one is for. What can go wrong in a candidate, and what becomes of it:

- its projection refuses a record the live generation applied (or cannot be imported): it is marked failed,
  in a row of its own table (`FAILURE_KEY`), and fed no more. Shown by `rebuild status`, counted as
  `CandidateGenerationsFailed` (alarmed), refused by `rebuild switch`, emptied by `rebuild drop`. If its
  table refuses that row too, the container stops feeding it at once and writes the row at a later batch;
- its table cannot be read or written (throttled, missing, access denied): nothing is marked, since that may
  pass. The aggregates it missed are remembered by the container and caught up from the log at its next
  batches (`Projector.catch_up`), counted as `CandidateGenerationsBehind` (alarmed). A container that ends
  first takes that memory with it: those aggregates stay behind in the candidate until their next event
  (gaps are filled from the log then), so after the alarm, repair it with `rebuild --in-place` of that
  generation, or drop and rebuild it;
- a record the live generation failed too is not held against it: Lambda delivers it again, to both.

Before setting a candidate's failures aside, its registry is read again uncached: a container's copy may be
`VIEW_GENERATIONS_MAX_AGE` seconds old, and a generation switched to meanwhile is live, so its failures are
reported like the active one's.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING

from eventcore.lambdas.batch_consumer import RecordFailure
from eventcore.read.generations.lifecycle import GenerationError, Generations
from eventcore.read.generations.registry import DEFAULT_MAX_AGE, CachedGenerations
from eventcore.read.projector import BatchResult, Projector, load_projection
from eventcore.read.view_store import DynamoDBViewStore, ViewRow
from eventcore.write.dynamodb_store import DynamoDBEventStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from eventcore.read.change_records import ChangeRecord
    from eventcore.read.generations.lifecycle import Generation
    from eventcore.read.projector import Projection
    from eventcore.read.view_store import ViewIndex, ViewPage, ViewStore
    from eventcore.write.store import EventStore

    GenerationKey = tuple[str, str | None]  # (generation, its rebuild's start): one build of one generation

FAILURE_KEY = "#generation-failed"  # a key no aggregate has: the row recording a generation's failure
# A candidate whose table could not be read or written for some aggregates is caught up on them from the log,
# this many a batch, by the container that missed them; past BEHIND_LIMIT of them it is marked failed instead
# (its table is gone or denied for long: rebuilding it is the cheaper repair, and the memory stays bounded).
CATCH_UP_PER_BATCH = 25
BEHIND_LIMIT = 10_000
TABLES_ENV = "VIEW_TABLES"
REGISTRY_ENV = "VIEW_GENERATIONS"
MAX_AGE_ENV = "VIEW_GENERATIONS_MAX_AGE"


@dataclass(frozen=True, slots=True)
class ViewSettings:
    """A generational view as its function's environment declares it."""

    tables: dict[str, str]  # generation -> table name
    registry: str  # the SSM parameter's name
    max_age: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ViewSettings:
        try:
            tables = json.loads(environ[TABLES_ENV])
            settings = cls(
                {str(name): str(table) for name, table in tables.items()},
                environ[REGISTRY_ENV],
                int(environ.get(MAX_AGE_ENV, DEFAULT_MAX_AGE)),
            )
        except (KeyError, ValueError, AttributeError) as exc:
            raise GenerationError(
                f"a generational view needs {TABLES_ENV} (a JSON object), {REGISTRY_ENV} and an integer "
                f"{MAX_AGE_ENV}: {type(exc).__name__}: {exc}"
            ) from exc
        return settings

    def stores(self, projection: Projection, client: DynamoDBClient) -> dict[str, DynamoDBViewStore]:
        return {
            name: DynamoDBViewStore(table, client, key_attribute=projection.key_attribute)
            for name, table in self.tables.items()
        }


class GenerationalView:
    """One read model: a view store per generation, the registry (cached), and the view's own projection,
    which every generation's projection must resemble (same aggregate, same key)."""

    def __init__(
        self, projection: Projection, stores: Mapping[str, ViewStore], generations: CachedGenerations
    ) -> None:
        self.projection = projection
        self.stores = dict(stores)
        self.generations = generations
        self._projections: dict[str, Projection] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_environment(
        cls, projection: Projection, client: DynamoDBClient, environ: Mapping[str, str] = os.environ
    ) -> GenerationalView:
        settings = ViewSettings.from_environment(environ)
        return cls(
            projection,
            settings.stores(projection, client),
            CachedGenerations(settings.registry, max_age=settings.max_age),
        )

    def current(self, *, stale_ok: bool = False, fresh: bool = False) -> Generations:
        generations = self.generations.current(stale_ok=stale_ok, fresh=fresh)
        unknown = set(generations.by_name) - set(self.stores)
        if unknown:
            raise GenerationError(f"the registry names generations without a table: {sorted(unknown)}")
        return generations

    def store(self, name: str) -> ViewStore:
        return self.stores[name]

    def projection_of(self, generation: Generation) -> Projection:
        """The generation's projection, imported once per container (ProjectionNotFoundError if it cannot
        be: a generation may only name a projection packaged with the function)."""
        with self._lock:
            if generation.projection not in self._projections:
                self._projections[generation.projection] = load_projection(
                    generation.projection, like=self.projection
                )
            return self._projections[generation.projection]

    def active_store(self) -> ActiveViewStore:
        return ActiveViewStore(self)


class ActiveViewStore:
    """The view store of whichever generation is active, resolved at each call from the cached registry (no
    request of its own while the cache is fresh). Until a switch, that is never a generation being built."""

    def __init__(self, view: GenerationalView) -> None:
        self._view = view

    @property
    def generation(self) -> str:
        return self._view.current(stale_ok=True).active.name

    def _store(self) -> ViewStore:
        return self._view.store(self.generation)

    def get_many(self, keys: Sequence[str]) -> dict[str, ViewRow]:
        return self._store().get_many(keys)

    def get(self, key: str) -> ViewRow | None:
        return self._store().get(key)

    def page(
        self,
        index: ViewIndex,
        value: str,
        *,
        limit: int,
        after: Mapping[str, str] | None = None,
        oldest_first: bool = False,
    ) -> ViewPage:
        # The generations' tables have the same schema, so a page position of one is a valid start in another:
        # a listing paged across a switch goes on where it was.
        return self._store().page(index, value, limit=limit, after=after, oldest_first=oldest_first)

    def put(self, key: str, row: ViewRow, *, expected_version: int) -> None:
        self._store().put(key, row, expected_version=expected_version)

    def put_if_newer(self, rows: Mapping[str, ViewRow]) -> int:
        return self._store().put_if_newer(rows)


def generation_failure(store: ViewStore) -> dict[str, str] | None:
    """Why and when a generation failed, from the row its projector wrote in its table; None if it has not."""
    row = store.get_many([FAILURE_KEY]).get(FAILURE_KEY)  # BatchGetItem: what every reader may already do
    return {str(k): str(v) for k, v in row.view.items()} if row is not None else None


class _Standing(Enum):
    """What a candidate is by the registry as it is now, read uncached."""

    LIVE = "active now, or not known not to be"
    CANDIDATE = "still a candidate"
    GONE = "dropped, or rebuilt since"


@dataclass
class _CandidateFeed:
    """One candidate's part of a batch, before anything is set aside: what it applied (`result`, without
    failures), the failures it would report were it live (`held`), why its projection fails (`broken`: it is
    to be marked failed), and the aggregates it could not reach (`unreached`, and why: to be caught up)."""

    result: BatchResult = field(default_factory=BatchResult)
    held: list[RecordFailure] = field(default_factory=list)
    broken: str | None = None
    unreached: set[str] = field(default_factory=set)
    why_unreached: str = ""

    @property
    def sets_failures_aside(self) -> bool:
        return self.broken is not None or bool(self.unreached)


class GenerationalProjector:
    """Feeds a batch to every fed generation, each with its own projection and the core's `Projector` (one
    conditional write per aggregate per generation). A record that fails in the active generation is
    reported, so nothing is lost: Lambda delivers it again, and the generations that applied it skip it.

    Nothing a candidate does fails the batch: its failure row unreadable, its rows unreadable or unwritable,
    its projection refusing an event. Before setting a candidate's failures aside, the registry is read
    again, uncached: a generation switched to since this container cached the registry is live, and its
    failures are reported. Otherwise, a record its projection refuses (one the live generation applied) marks
    it failed, fed no more; a table it could not read or write leaves it behind on those aggregates, which
    this container catches up from the log at its next batches (the module's docstring says why)."""

    def __init__(
        self,
        view: GenerationalView,
        store: EventStore,
        *,
        max_attempts: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.view = view
        self.store = store
        self._max_attempts = max_attempts
        self._projectors: dict[tuple[str, str], Projector] = {}
        self._clock = clock
        # (generation, its rebuild's start) -> (failed?, when it was last looked at)
        self._health: dict[GenerationKey, tuple[bool, float]] = {}
        # ... -> the aggregates (streams) it missed in this container, to catch up from the log
        self._behind: dict[GenerationKey, set[str]] = {}
        # ... -> its failure row, which its table refused so far
        self._unrecorded: dict[GenerationKey, dict[str, str]] = {}

    @classmethod
    def from_environment(
        cls, projection: Projection, client: DynamoDBClient, environ: Mapping[str, str] = os.environ
    ) -> GenerationalProjector:
        """A projector function's: the view's generations as the environment names them, over the event log
        EVENT_LOG_TABLE (where a record's earlier events are read when a generation is behind)."""
        return cls(
            GenerationalView.from_environment(projection, client, environ),
            DynamoDBEventStore(environ["EVENT_LOG_TABLE"], client),
        )

    def handle(self, records: Sequence[ChangeRecord]) -> BatchResult:
        try:
            generations = self.view.current()
        except GenerationError as exc:  # not knowing where to write: every record again, later
            return _all_failed(records, f"GenerationError: {exc}")
        active = generations.active
        problems: list[str] = []
        live = self._feed(active, records, problems)
        results = [(active.name, live)]
        live_failed = {failure.sequence_number for failure in live.failures}
        failed = behind = 0
        for candidate in generations.fed:
            if candidate.name == active.name:
                continue
            fed = self._feed_candidate(candidate, records, live_failed, problems)
            if fed.sets_failures_aside:
                standing = self._standing(candidate, problems)
                if standing is _Standing.LIVE:
                    results.append((candidate.name, replace(fed.result, failures=fed.held)))
                    continue
                if fed.broken is not None and standing is _Standing.CANDIDATE:
                    self._mark_failed(candidate, fed.broken, problems)
                    failed += 1
                elif fed.unreached and standing is _Standing.CANDIDATE:
                    if self._left_behind(candidate, fed.unreached, fed.why_unreached, problems):
                        behind += 1
                    else:
                        failed += 1
            results.append((candidate.name, fed.result))
        merged = _merged(results, records)
        merged.candidates_failed = failed
        merged.candidates_behind = behind
        merged.problems = problems
        return merged

    def _feed(
        self, generation: Generation, records: Sequence[ChangeRecord], problems: list[str]
    ) -> BatchResult:
        """The live generation's part: its failures are the batch's."""
        try:
            projector = self._projector(generation)
        except Exception as exc:
            return _all_failed(records, _why(exc))
        caught_up = BatchResult()
        if self._behind.get(_key(generation)):  # left behind while it was a candidate, in this container
            caught_up, broken = self._catch_up(generation, projector, problems)
            if broken is not None:
                problems.append(f"generation {generation.name} (active) cannot apply the log's: {broken}")
        result = projector.handle(records)
        _add_figures(result, caught_up)
        return result

    def _feed_candidate(
        self,
        candidate: Generation,
        records: Sequence[ChangeRecord],
        live_failed: set[str],
        problems: list[str],
    ) -> _CandidateFeed:
        # What the candidate misses if it cannot take this batch: the aggregates the live generation applied
        # (what that one failed is delivered again, to both).
        applied = {
            record.stream_id
            for record in records
            if record.stream_id is not None
            and record.sequence_number not in live_failed
            and self.view.projection.handles(record.stream_id)
        }
        try:
            failed = self._failed(candidate)
        except Exception as exc:
            return _unreached(records, applied, f"its failure row could not be read: {_why(exc)}")
        if failed:
            self._record_failure(candidate, problems)  # a failure row its table refused before
            return _CandidateFeed()
        try:
            projector = self._projector(candidate)
        except Exception as exc:  # its projection cannot be imported, or is not one of this view
            return _CandidateFeed(held=_all_failed(records, _why(exc)).failures, broken=_why(exc))
        fed = _CandidateFeed()
        if self._behind.get(_key(candidate)):
            fed.result, fed.broken = self._catch_up(candidate, projector, problems)
        try:
            result = projector.handle(records)
        except Exception as exc:  # the Projector reports rather than raises: this is for what nobody foresaw
            return _unreached(records, applied, _why(exc))
        fed.held = list(result.failures)
        for failure in result.failures:
            if failure.sequence_number in live_failed:
                continue  # the live generation reports it: Lambda delivers it again, to both
            if failure.stream_id is not None and failure.stream_id in result.unapplied_streams:
                fed.unreached.add(failure.stream_id)
                fed.why_unreached = fed.why_unreached or failure.reason
            elif fed.broken is None:
                fed.broken = failure.reason
        _add_figures(fed.result, result)
        return fed

    def _standing(self, candidate: Generation, problems: list[str]) -> _Standing:
        """The candidate by the registry read now, uncached: this container's copy may be up to its cache age
        old, and a generation switched to meanwhile is live. Unreadable: taken as live (its failures are then
        reported, and Lambda delivers the records again)."""
        try:
            now = self.view.current(fresh=True)
        except GenerationError as exc:
            problems.append(
                f"generation {candidate.name} failed records, and whether it is active now cannot be read: "
                f"they are reported ({exc})"
            )
            return _Standing.LIVE
        current = now.get(candidate.name)
        if now.active.name == candidate.name:
            problems.append(
                f"generation {candidate.name} is active now (this container's registry was older): its "
                "failed records are reported"
            )
            return _Standing.LIVE
        if current is None or not current.fed or current.since != candidate.since:
            return _Standing.GONE
        return _Standing.CANDIDATE

    def _failed(self, candidate: Generation) -> bool:
        """Whether the candidate was marked failed: known in this container, else read from its table at
        most once per registry cache age (another container may have marked it)."""
        key = _key(candidate)
        known = self._health.get(key)
        now = self._clock()
        if known is not None and (known[0] or now - known[1] < self.view.generations.max_age):
            return known[0]
        failed = generation_failure(self.view.store(candidate.name)) is not None
        self._health[key] = (failed, now)
        return failed

    def _mark_failed(self, candidate: Generation, reason: str, problems: list[str]) -> None:
        """Fed no more, from now on in this container; in every container once its failure row is written."""
        key = _key(candidate)
        at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self._unrecorded[key] = {
            "generation": candidate.name,
            "projection": candidate.projection,
            "failed_at": at,
            "reason": reason[:500],
        }
        self._health[key] = (True, self._clock())
        self._behind.pop(key, None)
        problems.append(
            f"generation {candidate.name} ({candidate.state.value}, {candidate.projection}) failed and is "
            f"fed no more: {reason}"
        )
        self._record_failure(candidate, problems)

    def _record_failure(self, candidate: Generation, problems: list[str]) -> None:
        key = _key(candidate)
        document = self._unrecorded.get(key)
        if document is None:
            return
        try:
            self.view.store(candidate.name).put_if_newer({FAILURE_KEY: ViewRow(document, 1)})
        except Exception as exc:
            problems.append(
                f"generation {candidate.name}'s failure could not be recorded in its table ({_why(exc)}): "
                "this container tries again at its next batch"
            )
            return
        del self._unrecorded[key]

    def _left_behind(self, candidate: Generation, streams: set[str], why: str, problems: list[str]) -> bool:
        """Remember the aggregates the candidate missed, to catch them up; False when that is too many to
        remember (it is marked failed instead: rebuilding it is the cheaper repair)."""
        key = _key(candidate)
        behind = self._behind.setdefault(key, set())
        behind.update(streams)
        if len(behind) > BEHIND_LIMIT:
            self._mark_failed(
                candidate, f"behind on more than {BEHIND_LIMIT} aggregates in one container: {why}", problems
            )
            return False
        problems.append(
            f"generation {candidate.name} ({candidate.state.value}) missed {len(streams)} aggregates of this "
            f"batch ({why}); this container catches them up from the log at its next batches "
            f"({len(behind)} behind)"
        )
        return True

    def _catch_up(
        self, generation: Generation, projector: Projector, problems: list[str]
    ) -> tuple[BatchResult, str | None]:
        """Up to CATCH_UP_PER_BATCH of the aggregates the generation missed in this container, caught up from
        the log: what its table still refuses stays behind; what its projection refuses is answered (why)."""
        key = _key(generation)
        behind = self._behind.get(key, set())
        chunk = sorted(behind)[:CATCH_UP_PER_BATCH]
        try:
            caught_up = projector.catch_up(chunk)
        except Exception as exc:  # catch_up reports rather than raises: this is for what nobody foresaw
            problems.append(f"generation {generation.name}: {len(behind)} aggregates behind: {_why(exc)}")
            return BatchResult(), None
        behind.difference_update(chunk)
        broken = None
        for failure in caught_up.failures:
            if failure.stream_id is not None and failure.stream_id in caught_up.unapplied_streams:
                behind.add(failure.stream_id)
            elif broken is None:
                broken = f"{failure.sequence_number}: {failure.reason}"
        if caught_up.unapplied_streams:
            problems.append(
                f"generation {generation.name}: {len(behind)} aggregates still behind: "
                f"{caught_up.failures[0].reason}"
            )
        if not behind:
            self._behind.pop(key, None)
        return replace(caught_up, failures=[], unapplied_streams=set()), broken

    def _projector(self, generation: Generation) -> Projector:
        key = (generation.name, generation.projection)
        if key not in self._projectors:
            self._projectors[key] = Projector(
                self.view.projection_of(generation),
                self.store,
                self.view.store(generation.name),
                max_attempts=self._max_attempts,
            )
        return self._projectors[key]


def _key(generation: Generation) -> GenerationKey:
    return (generation.name, generation.since)


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _unreached(records: Sequence[ChangeRecord], streams: set[str], why: str) -> _CandidateFeed:
    return _CandidateFeed(held=_all_failed(records, why).failures, unreached=set(streams), why_unreached=why)


def _add_figures(into: BatchResult, other: BatchResult) -> None:
    into.events_applied += other.events_applied
    into.rows_written += other.rows_written
    into.conflicts += other.conflicts
    into.gaps_filled += other.gaps_filled


def _all_failed(records: Sequence[ChangeRecord], reason: str) -> BatchResult:
    return BatchResult(failures=[RecordFailure(r.sequence_number, r.stream_id, reason) for r in records])


def _merged(results: list[tuple[str, BatchResult]], records: Sequence[ChangeRecord]) -> BatchResult:
    merged = BatchResult()
    failures: dict[str, RecordFailure] = {}
    for name, result in results:
        _add_figures(merged, result)
        for failure in result.failures:
            failures.setdefault(
                failure.sequence_number,
                RecordFailure(failure.sequence_number, failure.stream_id, f"{name}: {failure.reason}"),
            )
    order = {record.sequence_number: position for position, record in enumerate(records)}
    merged.failures = sorted(failures.values(), key=lambda failure: order.get(failure.sequence_number, 0))
    return merged
