"""One local cloud over the project's own template for the whole module: starting one costs a few seconds.

Only one LocalCloud may run per process, and stopping it resets moto's in-process state: these tests use no
`mock_aws` fixture."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail with a clear message at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(TEMPLATE, port=0, moto_port=0, output=io.StringIO()) as running:
        yield running
