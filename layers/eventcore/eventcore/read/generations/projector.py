"""A read model kept in blue/green generations, as the functions use it: the projector feeds every generation
the registry says is fed (each with the projection it was built with), and the queries read the active one
only, so a generation being built never answers a query. Declared per view by three environment variables:

- `VIEW_TABLES`: JSON, generation name -> table name (`{"blue": "...", "green": "..."}`);
- `VIEW_GENERATIONS`: the SSM parameter holding the view's generations registry;
- `VIEW_GENERATIONS_MAX_AGE`: seconds a container keeps the registry before reading it again (default 5).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventcore.lambdas.batch_consumer import RecordFailure
from eventcore.read.generations.lifecycle import GenerationError, Generations
from eventcore.read.generations.registry import DEFAULT_MAX_AGE, CachedGenerations
from eventcore.read.projector import BatchResult, Projector, load_projection
from eventcore.read.view_store import DynamoDBViewStore
from eventcore.write.dynamodb_store import DynamoDBEventStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from eventcore.read.change_records import ChangeRecord
    from eventcore.read.generations.lifecycle import Generation
    from eventcore.read.projector import Projection
    from eventcore.read.view_store import ViewIndex, ViewPage, ViewRow, ViewStore
    from eventcore.write.store import EventStore

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


class GenerationalProjector:
    """Feeds a batch to every fed generation, each with its own projection and the core's `Projector` (one
    conditional write per aggregate per generation). A record that fails in any generation is reported, so
    nothing is lost for any of them: Lambda delivers it again, and the generations that applied it skip it."""

    def __init__(self, view: GenerationalView, store: EventStore, *, max_attempts: int = 3) -> None:
        self.view = view
        self.store = store
        self._max_attempts = max_attempts
        self._projectors: dict[tuple[str, str], Projector] = {}

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
        results = []
        for generation in generations.fed:
            try:
                projector = self._projector(generation)
            except Exception as exc:
                results.append((generation.name, _all_failed(records, f"{type(exc).__name__}: {exc}")))
                continue
            results.append((generation.name, projector.handle(records)))
        return _merged(results, records)

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
