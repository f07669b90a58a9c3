"""Where a view's generations registry lives: one SSM parameter per view (a JSON document, see
`eventcore.read.generations.lifecycle`). The operator's commands read it fresh and write it; the functions
read it through Powertools parameters, cached `max_age` seconds per warm container, so a switch costs no read
per request and reaches every container within `max_age` seconds. Where acting on a registry that old would
lose data (a projector about to set a failing candidate aside), the function reads it again, uncached."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools.utilities.parameters import get_parameter
from botocore.exceptions import ClientError

from eventcore.errors import error_code
from eventcore.read.generations.lifecycle import GenerationError, Generations

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

DEFAULT_MAX_AGE = 5  # seconds: how stale a function's view of the registry may be (the switch's propagation)
# What a rebuild or a drop waits beyond the functions' cache age before it relies on every invocation having
# read a change: the registry's own propagation, clocks.
SETTLE_MARGIN_SECONDS = 2

Fetch = Callable[[str, int], str]  # (parameter, max age in seconds: 0 reads it now) -> its value


class GenerationRegistry(Protocol):
    def read(self) -> Generations:
        """The registry as it is now."""
        ...

    def write(self, generations: Generations) -> None: ...


class SsmGenerationRegistry:
    """The registry in SSM parameter `parameter`. PutParameter has no condition: one operator changes a view's
    generations at a time (each change re-reads the registry first and checks the state it expects)."""

    def __init__(self, parameter: str, client: SSMClient) -> None:
        self.parameter = parameter
        self._client = client

    def read(self) -> Generations:
        try:
            value = self._client.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            raise GenerationError(f"no generations registry {self.parameter!r} (SSM parameter)") from exc
        return Generations.parse(value)

    def write(self, generations: Generations) -> None:
        self._client.put_parameter(
            Name=self.parameter, Value=generations.dump(), Type="String", Overwrite=True
        )


class InMemoryGenerationRegistry:
    """The registry in memory, for tests; `writes` keeps every document written, oldest first."""

    def __init__(self, generations: Generations) -> None:
        self.generations = generations
        self.writes: list[Generations] = []

    def read(self) -> Generations:
        return self.generations

    def write(self, generations: Generations) -> None:
        self.generations = generations
        self.writes.append(generations)


def _powertools_fetch(name: str, max_age: int) -> str:
    # Powertools answers from its cache while an entry lives, whatever max_age this call asks for: a fresh
    # read must force it.
    return str(get_parameter(name, max_age=max_age, force_fetch=max_age <= 0))


class CachedGenerations:
    """The registry as a function sees it: fetched at most once per `max_age` seconds per container.

    `current()` fails when the registry cannot be read (the projector must not write to a set of generations
    it is not sure of: its batch is retried). `current(stale_ok=True)` answers with the last registry read
    instead, when there is one (a query may read the previous active generation a little longer: it is
    fed). `current(fresh=True)` reads the registry now, whatever the cache holds."""

    def __init__(self, parameter: str, *, max_age: int = DEFAULT_MAX_AGE, fetch: Fetch = _powertools_fetch):
        self.parameter = parameter
        self.max_age = max_age
        self._fetch = fetch
        self._lock = threading.Lock()
        self._text: str | None = None
        self._parsed: Generations | None = None

    def current(self, *, stale_ok: bool = False, fresh: bool = False) -> Generations:
        try:
            text = self._fetch(self.parameter, 0 if fresh else self.max_age)
            with self._lock:
                if text != self._text:  # parse once per change, not once per batch or request
                    self._parsed, self._text = Generations.parse(text), text
                assert self._parsed is not None
                return self._parsed
        except Exception as exc:
            if stale_ok and self._parsed is not None:
                return self._parsed
            if isinstance(exc, GenerationError):
                raise
            raise GenerationError(
                f"cannot read the generations registry {self.parameter!r}: {type(exc).__name__}: {exc}"
            ) from exc
