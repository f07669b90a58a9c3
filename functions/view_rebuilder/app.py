"""Rebuild a read model on AWS, near the data; invoked by hand (docs/read-side.md), never by an event source.
Which read model, the environment says: `VIEW_NAME`, `VIEW_PROJECTION` (the view's own projection,
`module:attribute`, packaged in the function's layers), `EVENT_LOG_TABLE` (the log it is replayed from) and
the generational view's `VIEW_TABLES`, `VIEW_GENERATIONS` and `VIEW_GENERATIONS_MAX_AGE`: the template
deploys this code once per view, as OrdersViewRebuilderFunction and ShipmentsViewRebuilderFunction.
The same actions as `python -m ops rebuild`, from the core's `eventcore.read.generations.bluegreen`:

    {"action": "build", "projection": "orders.read_model:order_projection", "segments": 8}   (the default)
    {"action": "in_place", "generation": "blue", "segments": 8}
    {"action": "status"}    {"action": "switch", "to": "green"}    {"action": "drop", "generation": "blue"}

`build` fills the free generation's table, catches it up and leaves it ready (15 minutes at most per
invocation: larger logs are rebuilt from the operator's machine). Answers the action's report.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from eventcore.lambdas.wiring import Wiring
from eventcore.read.generations.bluegreen import build, drop, rebuild_in_place, status, switch
from eventcore.read.generations.registry import SETTLE_MARGIN_SECONDS

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
MAX_SEGMENTS = 64
ACTIONS = ("build", "in_place", "status", "switch", "drop")

wiring = Wiring()
view = wiring.view_generations()
settle = wiring.view_settings.max_age + SETTLE_MARGIN_SECONDS


def _option(event: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = event.get(name, default)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"{name} must be a {kind.__name__}, got {value!r}")
    return value


@logger.inject_lambda_context(log_event=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    action = _option(event, "action", str, "build")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    segments = _option(event, "segments", int, 4)
    if not 1 <= segments <= MAX_SEGMENTS:
        raise ValueError(f"segments must be an integer from 1 to {MAX_SEGMENTS}, got {segments!r}")

    def progress(message: str) -> None:
        logger.info(message)

    match action:
        case "build":
            projection = _option(event, "projection", str)
            report: Any = build(
                view, projection=projection, segments=segments, settle=settle, progress=progress
            )
            if not report.ready:
                logger.error("the new generation is not ready", failed_streams=report.failed_streams)
        case "in_place":
            generation = _option(event, "generation", str)
            report = rebuild_in_place(view, generation, segments=segments, progress=progress)
            if report.failed_streams:
                # The rest is rebuilt; these rows were left as they were. Their reasons are in the progress.
                logger.error("rebuild left streams unrepaired", failed_streams=report.failed_streams)
        case "status":
            return [asdict(generation) for generation in status(view)]
        case "switch":
            report = switch(view, _option(event, "to", str))
        case "drop":
            generation = _option(event, "generation", str)
            report = drop(view, generation, settle=settle, segments=segments, progress=progress)
    return asdict(report)
