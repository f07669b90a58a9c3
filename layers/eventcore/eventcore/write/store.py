"""The event store contract: one commit (all events of one command) per append, appended only at the stream's
next version, read back in order (one stream per commit: a commit never spans streams).
`InMemoryEventStore` is the fast fake for unit tests; the DynamoDB store is the real one. Both pass the same
contract tests.

A stream is one aggregate's history, named `<Aggregate>-<id>` (its stream id). Change records of the log
(DynamoDB Streams) and published events (Kinesis) are other things, with other names: see `changes` and
`publishing`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from eventcore.errors import ConcurrencyError
from eventcore.write.events import RecordedEvent


def stream_id_of(aggregate: str, aggregate_id: str) -> str:
    """`("Order", "42")` -> `"Order-42"`: where an aggregate's commits are stored."""
    return f"{aggregate}-{aggregate_id}"


def aggregate_id(stream_id: str) -> str:
    """`Order-42` -> `42`: the aggregate's id, used as partition key and CloudEvents subject."""
    _, _, identifier = stream_id.partition("-")
    return identifier or stream_id


@dataclass(frozen=True, slots=True)
class Member:
    """One command of a batch commit: its id and fingerprint, and the versions of the events it recorded
    (`first_version` > `last_version` when it recorded none: it was decided, and satisfied already)."""

    command_id: str
    fingerprint: str
    first_version: int
    last_version: int


@dataclass(frozen=True, slots=True)
class Commit:
    """All events of one command, appended atomically at `version` (the version of its first event). A batch
    commit holds the events of several commands of one aggregate, decided together (`members`); its own
    `command_id` names the batch."""

    stream_id: str
    version: int
    events: tuple[RecordedEvent, ...]
    command_id: str
    fingerprint: str
    committed_at: str
    correlation_id: str | None = None
    causation_id: str | None = None
    snapshot: dict[str, Any] | None = field(default=None, compare=False)
    members: tuple[Member, ...] = ()

    @property
    def last_version(self) -> int:
        return self.version + len(self.events) - 1


class EventStore(Protocol):
    def append(self, commit: Commit) -> None:
        """Append `commit`; raise `ConcurrencyError` if the stream already has a commit at its version."""
        ...

    def read(self, stream_id: str, *, after: int = 0, up_to: int | None = None) -> Iterator[Commit]:
        """The commits starting after version `after` (and at or before `up_to`), oldest first."""
        ...

    def read_backwards(self, stream_id: str, *, page_size: int) -> Iterator[Commit]:
        """The stream's commits newest first, fetched `page_size` at a time; stop iterating to stop."""
        ...

    def find_command(self, stream_id: str, command_id: str) -> Commit | None:
        """The commit that applied `command_id` to the stream, or None if none did (the command index; on
        DynamoDB eventually consistent: a commit of the last moments may not be found yet)."""
        ...


class InMemoryEventStore:
    """The event store contract kept in a dict, for unit tests and benchmarks' baselines. It also refuses a
    commit whose versions overlap a stored one (DynamoDB cannot check that in one conditional write; why the
    runner never writes one is in docs/architecture.md, "Why commits never overlap")."""

    def __init__(self) -> None:
        self._streams: dict[str, list[Commit]] = {}
        self._lock = threading.Lock()

    def append(self, commit: Commit) -> None:
        with self._lock:
            commits = self._streams.setdefault(commit.stream_id, [])
            overlapping = next(
                (c for c in commits if c.version <= commit.last_version and commit.version <= c.last_version),
                None,
            )
            if overlapping is not None:
                raise ConcurrencyError(commit.stream_id, commit.version, overlapping)
            commits.append(commit)
            commits.sort(key=lambda c: c.version)

    def read(self, stream_id: str, *, after: int = 0, up_to: int | None = None) -> Iterator[Commit]:
        with self._lock:
            commits = list(self._streams.get(stream_id, ()))
        for commit in commits:
            if commit.version > after and (up_to is None or commit.version <= up_to):
                yield commit

    def read_backwards(self, stream_id: str, *, page_size: int) -> Iterator[Commit]:
        with self._lock:
            commits = list(self._streams.get(stream_id, ()))
        yield from reversed(commits)

    def find_command(self, stream_id: str, command_id: str) -> Commit | None:
        with self._lock:
            commits = list(self._streams.get(stream_id, ()))
        return next((commit for commit in commits if commit.command_id == command_id), None)
