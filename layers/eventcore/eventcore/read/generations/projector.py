"""A read model kept in blue/green generations, as the functions use it: the projector feeds every generation
the registry says is fed (each with the projection it was built with), and the queries read the active one
only, so a generation being built never answers a query. Declared per view by three environment variables:

- `VIEW_TABLES`: JSON, generation name -> table name (`{"blue": "...", "green": "..."}`);
- `VIEW_GENERATIONS`: the SSM parameter holding the view's generations registry;
- `VIEW_GENERATIONS_MAX_AGE`: seconds a container keeps the registry before reading it again (default 5).

Only the active generation is live. A candidate (catching up, ready, or the standby kept for a switch back)
whose projection fails is marked failed, in a row of its own table (`FAILURE_KEY`), and is fed no more: the
live generation's records never fail because of it, which is what building a new generation beside the
live one is for. A failed generation is shown by `rebuild status`, counted as `CandidateGenerationsFailed`
(alarmed), refused by `rebuild switch`, and emptied by `rebuild drop`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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

FAILURE_KEY = "#generation-failed"  # a key no aggregate has: the row recording a generation's failure
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

    def current(self, *, stale_ok: bool = False) -> Generations:
        generations = self.generations.current(stale_ok=stale_ok)
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


class GenerationalProjector:
    """Feeds a batch to every fed generation, each with its own projection and the core's `Projector` (one
    conditional write per aggregate per generation). A record that fails in the active generation is
    reported, so nothing is lost: Lambda delivers it again, and the generations that applied it skip it. A
    candidate that fails is marked failed instead and fed no more (the module's docstring says why)."""

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
        self._health: dict[tuple[str, str | None], tuple[bool, float]] = {}

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
        results = [(active.name, self._feed(active, records))]
        problems = []
        for candidate in generations.fed:
            if candidate.name == active.name or self._failed(candidate):
                continue
            result = self._feed(candidate, records)
            if result.failures:
                reason = result.failures[0].reason
                self._mark_failed(candidate, reason)
                problems.append(
                    f"generation {candidate.name} ({candidate.state.value}, {candidate.projection}) failed "
                    f"and is fed no more: {reason}"
                )
                result = BatchResult(events_applied=result.events_applied, rows_written=result.rows_written)
            results.append((candidate.name, result))
        merged = _merged(results, records)
        merged.candidates_failed = len(problems)
        merged.problems = problems
        return merged

    def _feed(self, generation: Generation, records: Sequence[ChangeRecord]) -> BatchResult:
        try:
            projector = self._projector(generation)
        except Exception as exc:
            return _all_failed(records, f"{type(exc).__name__}: {exc}")
        return projector.handle(records)

    def _failed(self, candidate: Generation) -> bool:
        """Whether the candidate was marked failed: known in this container, else read from its table at
        most once per registry cache age (another container may have marked it)."""
        key = (candidate.name, candidate.since)
        known = self._health.get(key)
        now = self._clock()
        if known is not None and (known[0] or now - known[1] < self.view.generations.max_age):
            return known[0]
        failed = generation_failure(self.view.store(candidate.name)) is not None
        self._health[key] = (failed, now)
        return failed

    def _mark_failed(self, candidate: Generation, reason: str) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        document = {
            "generation": candidate.name,
            "projection": candidate.projection,
            "failed_at": at,
            "reason": reason[:500],
        }
        self.view.store(candidate.name).put_if_newer({FAILURE_KEY: ViewRow(document, 1)})
        self._health[(candidate.name, candidate.since)] = (True, self._clock())

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


def _all_failed(records: Sequence[ChangeRecord], reason: str) -> BatchResult:
    return BatchResult(failures=[RecordFailure(r.sequence_number, r.stream_id, reason) for r in records])


def _merged(results: list[tuple[str, BatchResult]], records: Sequence[ChangeRecord]) -> BatchResult:
    merged = BatchResult()
    failures: dict[str, RecordFailure] = {}
    for name, result in results:
        merged.events_applied += result.events_applied
        merged.rows_written += result.rows_written
        merged.conflicts += result.conflicts
        merged.gaps_filled += result.gaps_filled
        for failure in result.failures:
            failures.setdefault(
                failure.sequence_number,
                RecordFailure(failure.sequence_number, failure.stream_id, f"{name}: {failure.reason}"),
            )
    order = {record.sequence_number: position for position, record in enumerate(records)}
    merged.failures = sorted(failures.values(), key=lambda failure: order.get(failure.sequence_number, 0))
    return merged
