"""A tiny decider for testing the core without any order logic: a counter with a ceiling, and a projection
of it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from eventcore import Decider, Event, EventRegistry
from eventcore.read.projector import Projection


class Increment(BaseModel):
    model_config = ConfigDict(frozen=True)
    by: int = 1
    times: int = 1  # events per command, to test multi-event commits


class Incremented(Event):
    by: int


class CeilingReachedError(Exception):
    pass


class Counter(BaseModel):
    model_config = ConfigDict(frozen=True)
    value: int = 0
    ceiling: int = 1_000_000


def decide(command: Increment, state: Counter) -> list[Event]:
    if state.value + command.by * command.times > state.ceiling:
        raise CeilingReachedError(state.value)
    return [Incremented(by=command.by) for _ in range(command.times)] if command.by else []


def evolve(state: Counter, event: Event) -> Counter:
    match event:
        case Incremented(by=by):
            return state.model_copy(update={"value": state.value + by})
    return state


def counter_decider(*, snapshot_every: int = 10, ceiling: int = 1_000_000) -> Decider[Increment, Counter]:
    return Decider(
        aggregate="Counter",
        initial_state=Counter(ceiling=ceiling),
        decide=decide,
        evolve=evolve,
        registry=EventRegistry([Incremented]),
        state_type=Counter,
        snapshot_every=snapshot_every,
    )


def project_counter(view: dict[str, Any] | None, event: Event) -> dict[str, Any]:
    """A counter's read model: its value and how many increments made it."""
    view = view or {"value": 0, "increments": 0}
    by = event.by if isinstance(event, Incremented) else 0
    return {"value": view["value"] + by, "increments": view["increments"] + 1}


counter_projection = Projection("Counter", "order_id", counter_decider().registry, project_counter)
COUNTER_PROJECTION = "tests.support.counter:counter_projection"
