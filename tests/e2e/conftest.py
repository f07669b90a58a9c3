"""One local cloud over the project's own template per module: starting one costs seconds, and a module may
start one of its own with other parameters (only one runs at a time in a process).

`start()` returns only once every function has a worker past its init phase, so the first request finds
a warm function even on a loaded machine; the health endpoint must say so too. Only one LocalCloud may run
per process, and stopping it resets moto's in-process state: these tests use no `mock_aws` fixture."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from localcloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(TEMPLATE, port=0, moto_port=0, output=io.StringIO()) as running:
        health = requests.get(f"{running.gateway_url}/_localcloud/health", timeout=30).json()
        assert health["ready"], health
        yield running
