"""Given/when/then for deciders: given past events, when a command, then new events or an error. Pure: no
store, no runner, so a decider's every rule is tested in microseconds. A test helper: it imports pytest, so
it lives here, not in the deployed layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from eventcore.write.decider import Decider
    from eventcore.write.events import Event


@dataclass(frozen=True)
class DeciderSpec[C, S]:
    decider: Decider[C, S]

    def given(self, *events: Event) -> Given[C, S]:
        return Given(self.decider, self.decider.fold(events, self.decider.initial_state))


@dataclass(frozen=True)
class Given[C, S]:
    decider: Decider[C, S]
    state: S

    def when(self, command: C) -> When[C, S]:
        return When(self.decider, self.state, command)


@dataclass(frozen=True)
class When[C, S]:
    decider: Decider[C, S]
    state: S
    command: C

    def then(self, *expected: Event) -> S:
        """Assert the decision; return the state after it, for further checks."""
        events = list(self.decider.decide(self.command, self.state))
        assert events == list(expected)
        return self.decider.fold(events, self.state)

    def then_raises(self, error: type[Exception], match: str | None = None) -> Any:
        with pytest.raises(error, match=match) as caught:
            self.decider.decide(self.command, self.state)
        return caught.value
