"""Blue/green generations of a read model: which tables hold a view, which of them the projector feeds,
which one the queries read, and the projection each was built with. Pure: the registry document and the
changes an operator may make to it (begin a generation, let it catch up, mark it ready, switch, drop), each
refused with what to do instead when it does not fit. Stored and read elsewhere
(`eventcore.read.generations.registry`).

A generation's life: `building` (the rebuild fills its empty table from the log; nobody else writes it) ->
`catching_up` (the projector feeds it; the rebuild catches up what was committed while it was building) ->
`ready` (level with the log: may be switched to) -> `active` (the queries read it) -> `standby` (the previous
active one after a switch, still fed, so switching back loses nothing) -> dropped (not fed, table emptied).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from eventcore.errors import EventCoreError


class GenerationError(EventCoreError):
    """A change to the generations that does not fit their states, or a registry that cannot be read."""


class State(StrEnum):
    BUILDING = "building"
    CATCHING_UP = "catching_up"
    READY = "ready"
    ACTIVE = "active"
    STANDBY = "standby"


# What the projector writes to: every generation but one still being backfilled (its table takes unconditional
# batch writes then, which are only safe while nobody else writes it).
FED_STATES = frozenset({State.CATCHING_UP, State.READY, State.ACTIVE, State.STANDBY})
SWITCHABLE_STATES = frozenset({State.READY, State.STANDBY})


@dataclass(frozen=True, slots=True)
class Generation:
    name: str
    state: State
    projection: str  # module:attribute of the Projection it is built and fed with
    since: str | None = None  # when its rebuild began (UTC ISO 8601): the catch-up reads commits from there
    changed_at: str | None = None
    rows: int | None = None  # rows its rebuild wrote

    @property
    def fed(self) -> bool:
        return self.state in FED_STATES

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"state": self.state.value, "projection": self.projection}
        for name in ("since", "changed_at", "rows"):
            if getattr(self, name) is not None:
                document[name] = getattr(self, name)
        return document


@dataclass(frozen=True, slots=True)
class Generations:
    """The registry of one view: its generations by name (at most one per table), exactly one active."""

    by_name: dict[str, Generation]

    @classmethod
    def parse(cls, text: str) -> Generations:
        try:
            document = json.loads(text)
            generations = {
                str(name): Generation(
                    name=str(name),
                    state=State(entry["state"]),
                    projection=str(entry["projection"]),
                    since=entry.get("since"),
                    changed_at=entry.get("changed_at"),
                    rows=entry.get("rows"),
                )
                for name, entry in document.items()
            }
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise GenerationError(f"the generations registry is not readable: {reason}") from exc
        registry = cls(generations)
        actives = [g.name for g in generations.values() if g.state is State.ACTIVE]
        if len(actives) != 1:
            raise GenerationError(
                f"the generations registry needs exactly one active generation, has {actives}"
            )
        return registry

    def dump(self) -> str:
        return json.dumps({name: g.to_json() for name, g in sorted(self.by_name.items())}, sort_keys=True)

    @property
    def active(self) -> Generation:
        return next(g for g in self.by_name.values() if g.state is State.ACTIVE)

    @property
    def fed(self) -> list[Generation]:
        """The generations the projector writes to, the active one first."""
        return sorted((g for g in self.by_name.values() if g.fed), key=lambda g: g.state is not State.ACTIVE)

    def get(self, name: str) -> Generation | None:
        return self.by_name.get(name)

    # -- changes: each returns the new registry, or says why not -------------------------------------------

    def begin(self, name: str, projection: str, *, at: str) -> Generations:
        current = self.by_name.get(name)
        if current is not None:
            hint = "drop it first" if current.state is not State.ACTIVE else "rebuild the other one"
            raise GenerationError(f"generation {name} is {current.state.value}: {hint}")
        return self._with(Generation(name, State.BUILDING, projection, since=at, changed_at=at))

    def catching_up(self, name: str, *, at: str) -> Generations:
        return self._advance(name, State.BUILDING, State.CATCHING_UP, at=at)

    def ready(self, name: str, *, at: str, rows: int) -> Generations:
        return self._advance(name, State.CATCHING_UP, State.READY, at=at, rows=rows)

    def switch(self, to: str | None = None, *, at: str) -> Generations:
        """Make `to` (default: the one other generation that may be switched to) active; the active one
        becomes standby, still fed, so switching back is as quick and loses nothing."""
        target = self._switch_target(to)
        previous = self.active
        return self._with(
            replace(previous, state=State.STANDBY, changed_at=at),
            replace(target, state=State.ACTIVE, changed_at=at),
        )

    def drop(self, name: str | None = None) -> Generations:
        """Forget generation `name` (default: the one that is not active): the projector stops feeding it."""
        generation = self.drop_target(name)
        return Generations({n: g for n, g in self.by_name.items() if n != generation.name})

    # -- internals ------------------------------------------------------------------------------------------

    def _with(self, *generations: Generation) -> Generations:
        return Generations({**self.by_name, **{g.name: g for g in generations}})

    def _advance(self, name: str, expected: State, state: State, *, at: str, **changes: Any) -> Generations:
        current = self.by_name.get(name)
        if current is None or current.state is not expected:
            found = "absent" if current is None else current.state.value
            raise GenerationError(
                f"generation {name} is {found}, not {expected.value}: another rebuild or a drop changed it"
            )
        return self._with(replace(current, state=state, changed_at=at, **changes))

    def _switch_target(self, to: str | None) -> Generation:
        if to is not None:
            target = self.by_name.get(to)
            if target is None:
                raise GenerationError(f"there is no generation {to}: rebuild one first")
            if target.state is State.ACTIVE:
                raise GenerationError(f"generation {to} is active already")
            if target.state not in SWITCHABLE_STATES:
                raise GenerationError(
                    f"generation {to} is {target.state.value}: only a ready or standby generation can be "
                    "switched to (a half-built one never answers a query)"
                )
            return target
        candidates = [g for g in self.by_name.values() if g.state in SWITCHABLE_STATES]
        if len(candidates) != 1:
            states = ", ".join(f"{g.name} {g.state.value}" for g in self.by_name.values())
            raise GenerationError(f"no generation to switch to ({states}): rebuild one first")
        return candidates[0]

    def drop_target(self, name: str | None = None) -> Generation:
        """The generation a drop of `name` (default: the one that is not active) would forget."""
        if name is not None:
            generation = self.by_name.get(name)
            if generation is None:
                raise GenerationError(f"there is no generation {name}")
        else:
            others = [g for g in self.by_name.values() if g.state is not State.ACTIVE]
            if not others:
                raise GenerationError("only the active generation exists: nothing to drop")
            generation = others[0]
        if generation.state is State.ACTIVE:
            raise GenerationError(
                f"generation {generation.name} is active: the queries read it; switch to another one first"
            )
        return generation
