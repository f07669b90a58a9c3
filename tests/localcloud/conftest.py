"""One local cloud over the sample template per module that asks for it: starting one costs a few seconds.

A module, not the package: moto keeps its state per process, so only one local cloud may run at a time, and
the modules with sample templates of their own (REST, async events, state) start theirs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Iterator

SAMPLE = Path(__file__).parent / "sample"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(SAMPLE / "template.yaml", port=0, moto_port=0, output=io.StringIO()) as running:
        yield running
