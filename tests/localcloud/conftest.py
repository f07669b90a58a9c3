"""One local cloud over the sample template for the whole module: starting one costs a few seconds."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SAMPLE = Path(__file__).parent / "sample"


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


# Package-scoped: one LocalCloud runs in a process at a time; it must stop before tests/e2e starts one.
@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(SAMPLE / "template.yaml", port=0, moto_port=0, output=io.StringIO()) as running:
        yield running
