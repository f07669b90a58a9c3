"""What the local cloud's tests share: the sample template, and waiting for an outcome with a deadline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SAMPLE", "wait_until"]

SAMPLE = Path(__file__).parent / "sample"
"""The sample template most tests run (`sample/template.yaml`: its functions, layer and events beside it);
`samples/` holds more, for the event types it does not have."""


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail with a clear message at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)
