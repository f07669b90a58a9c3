"""One local cloud over the sample template for this whole package (the gateway, the triggers, the command
line): starting one costs seconds. moto keeps its state per process, so only one local cloud may run at a
time: the modules beside this package, with sample templates of their own, start theirs after it stopped."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud
from support import SAMPLE

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(SAMPLE / "template.yaml", port=0, moto_port=0, output=io.StringIO()) as running:
        yield running
