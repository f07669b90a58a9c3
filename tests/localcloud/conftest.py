"""One local cloud over the sample template for the whole module: starting one costs a few seconds."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Iterator

SAMPLE = Path(__file__).parent / "sample"


@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(SAMPLE / "template.yaml", port=0, moto_port=0, output=io.StringIO()) as running:
        yield running
