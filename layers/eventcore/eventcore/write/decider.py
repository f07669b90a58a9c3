"""The decider: an aggregate as three pure parts (initial state, decide, evolve) plus what the core needs to
store it (stream naming, event registry, state schema for snapshots). No I/O, no clock, no ids in here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pydantic import TypeAdapter

from eventcore.write.events import Event, EventRegistry
from eventcore.write.store import stream_id_of


@dataclass(frozen=True)
class Decider[C, S]:
    aggregate: str
    initial_state: S
    decide: Callable[[C, S], Sequence[Event]]
    evolve: Callable[[S, Event], S]
    registry: EventRegistry
    state_type: Any
    # Bump when the state's shape changes: older snapshots are then ignored and the stream replayed.
    state_schema: int = 1
    # A commit carries a snapshot whenever it crosses a multiple of this many events.
    snapshot_every: int = 20
    _state_adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_state_adapter", TypeAdapter(self.state_type))

    def stream_id(self, aggregate_id: str) -> str:
        return stream_id_of(self.aggregate, aggregate_id)

    def owns(self, stream_id: str) -> bool:
        """True for the streams of this decider's aggregates."""
        return stream_id.startswith(f"{self.aggregate}-")

    def fold(self, events: Iterable[Event], state: S) -> S:
        return reduce(self.evolve, events, state)

    def dump_state(self, state: S) -> Any:
        return self._state_adapter.dump_python(state, mode="json")

    def load_state(self, data: Any) -> S:
        state: S = self._state_adapter.validate_python(data)
        return state


def fingerprint(payload: Any) -> str:
    """A stable hash of a command's payload: tells a retried command from another one with the same id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]  # 128 bits: ample, and half the bytes
