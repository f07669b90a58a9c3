"""Rebuilding a read model from its event log, from the operator's machine, through the core's own rebuild
(`microsystem.rebuild`: parallel scan, per-aggregate replay, conditional writes, safe while the projector
runs). A view is named by its table's logical id; `VIEWS` says which projection fills it from which log.

This is the in-place rebuild. Blue/green generations (`rebuild status|switch|drop VIEW`) are planned as
further actions of the same command: `ACTIONS` lists them, `run` is the default one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ops.target import TargetError

if TYPE_CHECKING:
    from microsystem.rebuild import Progress, RebuildReport
    from ops.target import Target

ACTIONS = ("run",)


@dataclass(frozen=True, slots=True)
class View:
    projection: str  # module:attribute of the Projection
    log: str  # logical id of the event log it is replayed from


# Every rebuildable read model: add one line per view a context adds.
VIEWS: dict[str, View] = {
    "OrdersView": View("orders.projection:order_projection", "OrdersEventLog"),
}


def resolve(name: str) -> tuple[str, View]:
    for logical_id, view in VIEWS.items():
        if name.lower() == logical_id.lower():
            return logical_id, view
    raise TargetError(f"no rebuildable view {name!r}; there are: {', '.join(VIEWS)}")


def run(
    target: Target, name: str, *, segments: int = 4, fresh: bool = False, progress: Progress = print
) -> RebuildReport:
    from microsystem.rebuild import load_projection, rebuild
    from microsystem.viewstore import DynamoDBViewStore

    logical_id, view = resolve(name)
    projection = load_projection(view.projection)
    client = target.client("dynamodb")
    views = DynamoDBViewStore(target.physical(logical_id), client, key_attribute=projection.key_attribute)
    return rebuild(
        projection,
        client,
        target.physical(view.log),
        views,
        segments=segments,
        fresh=fresh,
        progress=progress,
    )
