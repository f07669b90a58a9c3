"""The local cloud's own tests: the sample template most of them run (`sample/`), and more sample templates
for the event types it does not have (`samples/`)."""

from __future__ import annotations

from pathlib import Path

SAMPLE = Path(__file__).parent / "sample"
