"""The event store contract: one commit (all events of one command) per append, appended only at the stream's
next version, read back in order. `InMemoryEventStore` is the fast fake for unit tests; the DynamoDB store is
the real one. Both pass the same contract tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from microsystem.errors import ConcurrencyError
from microsystem.events import RecordedEvent


@dataclass(frozen=True, slots=True)
class Commit:
    """All events of one command, appended atomically at `version` (the version of its first event)."""

    stream: str
    version: int
    events: tuple[RecordedEvent, ...]
    command_id: str
    fingerprint: str
    committed_at: str
    correlation_id: str | None = None
    causation_id: str | None = None
    snapshot: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def last_version(self) -> int:
        return self.version + len(self.events) - 1


class EventStore(Protocol):
    def append(self, commit: Commit) -> None:
        """Append `commit`; raise `ConcurrencyError` if the stream already has a commit at its version."""
        ...

    def read(self, stream: str, *, after: int = 0, up_to: int | None = None) -> Iterator[Commit]:
        """The commits starting after version `after` (and at or before `up_to`), oldest first."""
        ...

    def read_backwards(self, stream: str, *, page_size: int) -> Iterator[Commit]:
        """The stream's commits newest first, fetched `page_size` at a time; stop iterating to stop."""
        ...


class InMemoryEventStore:
    """The event store contract kept in a dict, for unit tests and benchmarks' baselines."""

    def __init__(self) -> None:
        self._streams: dict[str, list[Commit]] = {}
        self._lock = threading.Lock()

    def append(self, commit: Commit) -> None:
        with self._lock:
            commits = self._streams.setdefault(commit.stream, [])
            existing = next((c for c in commits if c.version == commit.version), None)
            if existing is not None:
                raise ConcurrencyError(commit.stream, commit.version, existing)
            commits.append(commit)
            commits.sort(key=lambda c: c.version)

    def read(self, stream: str, *, after: int = 0, up_to: int | None = None) -> Iterator[Commit]:
        with self._lock:
            commits = list(self._streams.get(stream, ()))
        for commit in commits:
            if commit.version > after and (up_to is None or commit.version <= up_to):
                yield commit

    def read_backwards(self, stream: str, *, page_size: int) -> Iterator[Commit]:
        with self._lock:
            commits = list(self._streams.get(stream, ()))
        yield from reversed(commits)

    def streams(self) -> list[str]:
        with self._lock:
            return list(self._streams)
