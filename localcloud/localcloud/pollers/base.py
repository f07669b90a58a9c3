"""What every poller shares: a thread, a stop flag, waking on writes, and the idle flag tests wait on."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.motoserver import WriteSignal
    from localcloud.workers import FunctionRuntime, Invocation

__all__ = ["Poller", "PollerContext"]


@dataclass
class PollerContext:
    """What a poller needs from the local cloud."""

    runtime: FunctionRuntime
    client: Callable[[str], Any]
    signal: WriteSignal
    report: Callable[[Invocation], None]
    region: str
    poll_interval: float
    source: str  # the table, stream or queue polled: only writes to it wake the poller

    def writes_seen(self) -> int:
        return self.signal.generation(self.source)

    def wait_for_write(self, seen: int, timeout: float) -> None:
        self.signal.wait(self.source, seen, timeout)


class Poller(threading.Thread):
    """One polling loop (one shard, or one queue) feeding one function."""

    trigger = ""  # what the report and the console call it: "sqs NAME", "kinesis NAME", ...
    key = ""  # stable across restarts: the mapping's logical id (and the shard), for the state folder

    def __init__(self, context: PollerContext, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.context = context
        self.stopping = threading.Event()
        self.idle = False  # True while the last look found nothing to do
        self._last_error = ""

    def stop(self) -> None:
        self.stopping.set()
        self.context.signal.notify()  # wake everything, this poller included

    def run(self) -> None:
        while not self.stopping.is_set():
            generation = self.context.writes_seen()
            try:
                worked = self.poll_once()
            except Exception as exc:
                if self.stopping.is_set():
                    return
                if repr(exc) != self._last_error:  # say it once, not once per retry
                    self._last_error = repr(exc)
                    print(
                        f"[localcloud] poller {self.name} failed: {exc!r}; retrying every second",
                        file=sys.stderr,
                        flush=True,
                    )
                self.sleep(1.0)
                continue
            # Done with everything the source held when this look began, and nothing written since: only
            # a write can bring more, so looking again at once would only find nothing (a request).
            done = not worked or (self.caught_up and self.context.writes_seen() == generation)
            self.idle = done
            if done:
                # Sleep until the next write to the source, or `idle_wait` at most.
                self.context.wait_for_write(generation, self.idle_wait)

    @property
    def idle_wait(self) -> float:
        """How long to wait for a write before looking again anyway: the poll interval (for visibility
        timeouts, delays and batching windows, which no write announces)."""
        return self.context.poll_interval

    @property
    def caught_up(self) -> bool:
        """Whether the last look, which found work, left nothing to read (SQS: not known, look again)."""
        return False

    @property
    def lag(self) -> int:
        """How much is waiting for this trigger (records read and not done, messages in the queue)."""
        return 0

    @property
    def function(self) -> str:
        return self.context.runtime.name

    def poll_once(self) -> bool:
        """Look once; deliver what there is. True if there was work."""
        raise NotImplementedError

    def sleep(self, seconds: float) -> bool:
        """Wait without spinning; False if the local cloud is stopping."""
        return not self.stopping.wait(seconds)
