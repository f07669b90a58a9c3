"""Rebuilding a read model from the operator's machine, blue/green, through the core's own lifecycle
(`eventcore.read.generations.bluegreen`): `run` builds a new generation beside the active one and catches
it up (or, with `in_place`, repairs a fed generation with conditional writes), `status` shows the
generations, `switch` makes another one active (one registry change, reversible), `drop` stops feeding one
and empties its table.

A read model is declared once, in the template: its generations registry (an SSM parameter) carries
`Metadata.ReadModel` with the view's name, the log it is replayed from and a table per generation. Every
such view is rebuildable here, on the local cloud or a deployed stack alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ops.target import TargetError

if TYPE_CHECKING:
    from eventcore.read.generations.bluegreen import (
        BuildReport,
        Dropped,
        GenerationStatus,
        Switched,
        ViewGenerations,
    )
    from eventcore.read.generations.log_scan import Progress
    from eventcore.read.generations.replay import RebuildReport
    from ops.target import Target

ACTIONS = ("run", "status", "switch", "drop")
CACHE_PARAMETER = "ViewGenerationsCacheSeconds"  # the functions' cache age of a registry (template parameter)
DEFAULT_CACHE_SECONDS = 5


@dataclass(frozen=True, slots=True)
class ReadModel:
    """A view as the template declares it: logical ids of its registry, its log and its tables. The log's
    id is the one a stack in one region gives it (`OrdersEventLog`): a replicated stack's is found by the
    stack's output that names it (`Target.table`)."""

    view: str
    registry: str
    log: str
    generations: dict[str, str]  # generation -> table logical id
    archived: str | None = None  # its context's partition in the archive (`Archived` in its metadata)


def read_models(target: Target) -> dict[str, ReadModel]:
    found = {}
    for logical_id, resource in target.shape.resources.items():
        declared = resource.get("Metadata", {}).get("ReadModel")
        if resource.get("Type") != "AWS::SSM::Parameter" or not isinstance(declared, dict):
            continue
        found[declared["View"]] = ReadModel(
            declared["View"],
            logical_id,
            declared["Log"],
            dict(declared["Generations"]),
            declared.get("Archived"),
        )
    return found


def resolve(target: Target, name: str) -> ReadModel:
    models = read_models(target)
    for view, model in models.items():
        if name.lower() == view.lower():
            return model
    raise TargetError(f"no rebuildable view {name!r}; there are: {', '.join(sorted(models)) or 'none'}")


def view_generations(target: Target, model: ReadModel) -> ViewGenerations:
    """The view's generations on `target`. Its own projection is the active generation's: any other one a
    generation is built with must project the same aggregate into the same key."""
    from eventcore import DynamoDBEventStore
    from eventcore.read.generations.bluegreen import ViewGenerations
    from eventcore.read.generations.registry import SsmGenerationRegistry
    from eventcore.read.projector import load_projection
    from eventcore.read.view_store import DynamoDBViewStore

    client = target.client("dynamodb")
    registry = SsmGenerationRegistry(target.physical(model.registry), target.client("ssm"))
    projection = load_projection(registry.read().active.projection)
    stores = {
        name: DynamoDBViewStore(target.physical(table), client, key_attribute=projection.key_attribute)
        for name, table in model.generations.items()
    }
    return ViewGenerations(
        model.view,
        projection,
        client,
        DynamoDBEventStore(target.table(model.log), client),
        stores,
        registry,
    )


def cache_seconds(target: Target) -> float:
    """How long a warm function keeps a registry before reading it again: the stack's parameter."""
    value = target.parameters.get(CACHE_PARAMETER, DEFAULT_CACHE_SECONDS)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TargetError(f"the stack's {CACHE_PARAMETER} is not a number: {value!r}") from None


def settle_seconds(target: Target) -> float:
    """How long a rebuild or a drop waits after a registry change before it relies on every function
    having read it: the cache age plus a margin."""
    from eventcore.read.generations.registry import SETTLE_MARGIN_SECONDS

    return cache_seconds(target) + SETTLE_MARGIN_SECONDS


def run(
    target: Target,
    name: str,
    *,
    projection: str | None = None,
    segments: int = 4,
    settle: float | None = None,
    progress: Progress = print,
    from_archive: bool = False,
) -> BuildReport:
    """A new generation, backfilled from the log (a parallel scan) or, `from_archive`, from the archive's
    objects of the view's context (then caught up from the log for everything the archive may lag)."""
    from eventcore.read.generations.archive_scan import ArchiveSource
    from eventcore.read.generations.bluegreen import build

    model = resolve(target, name)
    view = view_generations(target, model)
    wait = settle_seconds(target) if settle is None else settle
    source = None
    if from_archive:
        if model.archived is None:
            raise TargetError(f"{model.view} declares no archived context (Metadata.ReadModel.Archived)")
        source = ArchiveSource(target.client("s3"), target.physical("ArchiveBucket"), model.archived)
    return build(
        view, projection=projection, segments=segments, settle=wait, progress=progress, source=source
    )


def in_place(
    target: Target, name: str, *, generation: str | None = None, segments: int = 4, progress: Progress = print
) -> RebuildReport:
    from eventcore.read.generations.bluegreen import rebuild_in_place

    view = view_generations(target, resolve(target, name))
    return rebuild_in_place(view, generation, segments=segments, progress=progress)


def status(target: Target, name: str | None = None) -> dict[str, list[GenerationStatus]]:
    from eventcore.read.generations.bluegreen import status as generations_status

    models = [resolve(target, name)] if name else list(read_models(target).values())
    return {model.view: generations_status(view_generations(target, model)) for model in models}


def switch(target: Target, name: str, *, to: str | None = None) -> Switched:
    from eventcore.read.generations.bluegreen import switch as switch_generation

    return switch_generation(view_generations(target, resolve(target, name)), to)


def drop(
    target: Target,
    name: str,
    *,
    generation: str | None = None,
    segments: int = 4,
    settle: float | None = None,
    progress: Progress = print,
) -> Dropped:
    from eventcore.read.generations.bluegreen import drop as drop_generation

    view = view_generations(target, resolve(target, name))
    wait = settle_seconds(target) if settle is None else settle
    return drop_generation(view, generation, settle=wait, segments=segments, progress=progress)
