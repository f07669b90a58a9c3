"""Function runtimes: worker processes per function, with Lambda's init and function timeouts.

Each worker is a process that imports the handler once (the init phase, a cold start) and then serves one
invocation at a time, like a Lambda execution environment. A function keeps a small pool of them and starts
another in the background when all are busy; an invocation waits for whichever is free first. A worker is
checked before it is handed an invocation and acknowledges each one: one that died while idle is replaced
and the invocation goes to another, never failing for it. One that times out or dies during an invocation
is killed and replaced, and that invocation fails as it would on Lambda. Nothing a function does can stop
the local cloud.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

from localcloud.forkserver import ForkedProcess, fork_worker

__all__ = ["INIT_TIMEOUT_SECONDS", "FunctionRuntime", "InitError", "Invocation", "close_all"]

# Lambda allows 10 s for the init phase; here several workers may import at once on a loaded 2-core machine.
FUNCTION_USER_AGENT_APP_ID = "localcloud-function"
INIT_TIMEOUT_SECONDS = float(os.environ.get("LOCALCLOUD_INIT_TIMEOUT", "30"))
# The folder holding this package, first on a worker's path: `-m localcloud.worker_main` imports this copy.
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
_sequence = itertools.count(1)
STDERR_FILENO = 2


@dataclass
class Invocation:
    """The outcome of one invocation: `status` is ok, error or timeout; `payload` the decoded response."""

    function: str
    trigger: str
    batch_size: int
    status: str
    duration_ms: float
    cold: bool
    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None
    note: str = ""
    started: float = field(default_factory=time.time)
    correlation_id: str | None = None  # the correlation id the function logged, if any
    reference: str | None = None  # what the line shows to find the work again (an order id, a request id)
    http_status: int | None = None
    log_lines: list[str] = field(default_factory=list)
    sequence: int = field(default_factory=lambda: next(_sequence))

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class InitError(Exception):
    """A worker could not finish its init phase; `error` is Lambda's description of why."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("errorMessage", "init failed"))
        self.error = error


class _Vanished(Exception):
    """The worker died before it acknowledged the invocation: the invocation never started."""


class _Worker:
    """A worker process, talked to over a socket pair with multiprocessing's message framing.

    A fresh interpreter (`python -m localcloud.worker_main`) rather than multiprocessing's spawn: spawn would
    re-import the caller's main script, which breaks scripts without a `__main__` guard.
    """

    def __init__(self, setup: dict[str, Any], logs: BinaryIO | None = None) -> None:
        parent_socket, child_socket = socket.socketpair()
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([_PACKAGE_PARENT, *sys.path[1:]]),
            # botocore puts it in every request's user agent (`app/...`): what tells a function's requests
            # from the local cloud's own (its pollers) in moto's recorder (bench/cost.py)
            "AWS_SDK_UA_APP_ID": FUNCTION_USER_AGENT_APP_ID,
        }
        # Without a log file, what the function prints goes to this process's standard error, never its
        # standard output: `localcloud invoke` keeps that for the answer, as `sam local invoke` does.
        output = logs.fileno() if logs is not None else STDERR_FILENO
        self.process: subprocess.Popen[bytes] | ForkedProcess = fork_worker(
            environment, child_socket.fileno(), output
        ) or subprocess.Popen(
            [sys.executable, "-m", "localcloud.worker_main", str(child_socket.fileno())],
            pass_fds=[child_socket.fileno()],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        child_socket.close()
        self.conn = Connection(parent_socket.detach())
        self.conn.send(setup)
        self.invocations = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        """Block until the handler is imported; InitError if it failed, died or took too long."""
        try:
            if not self.conn.poll(timeout):
                message = f"init did not finish within {timeout:.0f} s"
                raise InitError({"errorType": "Runtime.InitTimeout", "errorMessage": message})
            kind, detail = self.conn.recv()
        except (EOFError, OSError) as exc:
            code = self.process.poll()
            message = f"the worker exited during init (exit code {code})"
            raise InitError({"errorType": "Runtime.ExitError", "errorMessage": message}) from exc
        if kind != "ready":
            raise InitError(detail)

    def start_invocation(self, message: tuple[str, Any, float], timeout: float) -> None:
        """Hand the invocation over; _Vanished if the worker is gone before it took it."""
        try:
            self.conn.send(message)
            if not self.conn.poll(timeout):
                raise _Vanished("no acknowledgement")
            kind, _ = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _Vanished(str(exc) or "connection closed") from exc
        if kind != "started":
            raise _Vanished(f"unexpected message {kind!r}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.conn.close()

    def ask_to_stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)

    def finish(self, deadline: float) -> None:
        """Wait for the worker to exit until `deadline` (monotonic), then kill it."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        self.kill()


class FunctionRuntime:
    """A function's pool of workers; `invoke` runs one event through a free worker."""

    def __init__(
        self,
        setup: dict[str, Any],
        timeout: float,
        max_workers: int = 2,
        logs: BinaryIO | None = None,
        init_timeout: float = INIT_TIMEOUT_SECONDS,
    ) -> None:
        self.name: str = setup["function_name"]
        self.setup = setup
        self.timeout = timeout
        self.init_timeout = init_timeout
        self.max_workers = max_workers
        self._logs = logs
        self._idle: list[_Worker] = []
        self._starting = 0
        self._busy: set[_Worker] = set()
        self._failures: list[InitError] = []  # init failures no invocation has been told of yet
        self.last_init_error: dict[str, Any] | None = None
        self._condition = threading.Condition()
        self._closed = False
        self.replaced = 0  # workers found dead while idle and replaced

    # ----- pool -----

    @property
    def workers(self) -> int:
        with self._condition:
            return len(self._idle) + len(self._busy) + self._starting

    @property
    def ready(self) -> bool:
        """Whether an invocation arriving now would find a worker past its init phase."""
        with self._condition:
            return any(worker.alive for worker in self._idle) or bool(self._busy)

    @property
    def pids(self) -> list[int]:
        with self._condition:
            return [worker.pid for worker in [*self._idle, *self._busy]]

    @property
    def idle_pids(self) -> list[int]:
        """The process ids of the workers waiting for an invocation."""
        with self._condition:
            return [worker.pid for worker in self._idle]

    def prewarm(self) -> None:
        """Start one worker now (in the background), so that the first invocation finds it warm."""
        with self._condition:
            if not self._idle and not self._busy and not self._starting:
                self._start_worker()

    def wait_ready(self, timeout: float) -> None:
        """Block until a worker is past its init phase; InitError if it failed, TimeoutError if too slow."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not self._idle and not self._busy:
                if self._failures:
                    raise self._failures[0]
                if not self._starting:
                    self._start_worker()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: no worker ready within {timeout:.0f} s")
                self._condition.wait(remaining)

    def replace_dead_idle_workers(self) -> int:
        """Drop idle workers that died (killed, crashed) and start their replacements; how many died."""
        with self._condition:
            dead = [worker for worker in self._idle if not worker.alive]
            for worker in dead:
                self._idle.remove(worker)
            if dead and not self._closed and not self._idle and not self._starting:
                self._start_worker()
        for worker in dead:
            worker.kill()
        self.replaced += len(dead)
        return len(dead)

    def _start_worker(self) -> None:
        """Start a worker whose init runs on a thread of its own; called with the condition held."""
        self._starting += 1
        threading.Thread(target=self._init_worker, name=f"init:{self.name}", daemon=True).start()

    def _init_worker(self) -> None:
        worker: _Worker | None = None
        failure: InitError | None = None
        try:
            worker = _Worker(self.setup, self._logs)
            worker.wait_ready(self.init_timeout)
        except InitError as exc:
            failure = exc
        except OSError as exc:
            failure = InitError({"errorType": "Runtime.ExitError", "errorMessage": f"cannot start: {exc}"})
        with self._condition:
            self._starting -= 1
            if failure is None and worker is not None and not self._closed:
                self._idle.append(worker)
                self.last_init_error = None
                worker = None
            elif failure is not None:
                self._failures.append(failure)
                self.last_init_error = failure.error
            self._condition.notify_all()
        if worker is not None:
            worker.kill()  # failed, or the local cloud stopped while it started

    def _acquire(self, deadline: float) -> _Worker:
        with self._condition:
            while True:
                if self._closed:
                    raise RuntimeError("the local cloud is stopping")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        self._busy.add(worker)
                        return worker
                    self.replaced += 1
                    threading.Thread(target=worker.kill, daemon=True).start()
                if self._failures:
                    raise self._failures.pop(0)
                if len(self._busy) + self._starting < self.max_workers:
                    self._start_worker()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise InitError(
                        {"errorType": "Runtime.InitTimeout", "errorMessage": "no worker became free in time"}
                    )
                self._condition.wait(remaining)

    def _release(self, worker: _Worker) -> None:
        with self._condition:
            self._busy.discard(worker)
            if self._closed:
                worker.ask_to_stop()
                threading.Thread(target=worker.finish, args=(time.monotonic() + 1,), daemon=True).start()
                return
            self._idle.append(worker)
            self._condition.notify_all()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._condition:
            self._busy.discard(worker)
            self._condition.notify_all()

    # ----- invoking -----

    def invoke(self, event: Any, trigger: str, batch_size: int = 1) -> Invocation:
        """Run `event` through a free worker, waiting for one within the init and function timeouts."""
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        deadline = started + self.init_timeout + self.timeout
        cold = False

        def outcome(status: str, payload: Any = None, error: dict[str, Any] | None = None) -> Invocation:
            # Lambda's Duration: from when a worker has the event, not the wait for a free one or its init.
            duration = (time.monotonic() - began) * 1000
            return Invocation(
                self.name, trigger, batch_size, status, duration, cold, request_id, payload, error
            )

        began = started
        while True:
            try:
                worker = self._acquire(deadline)
            except InitError as exc:
                return outcome("error", error=exc.error)
            began = time.monotonic()
            cold = worker.invocations == 0
            try:
                worker.start_invocation((request_id, event, self.timeout), timeout=self.timeout)
            except _Vanished:
                self._discard(worker)  # died while idle: it never saw the event, so another one gets it
                with self._condition:
                    self.replaced += 1
                continue
            break
        worker.invocations += 1
        try:
            if not worker.conn.poll(self.timeout):
                # Lambda stops the environment on a timeout; so do we, and the next call starts cold.
                self._discard(worker)
                message = f"Task timed out after {self.timeout:.2f} seconds"
                return outcome("timeout", error={"errorType": "Sandbox.Timedout", "errorMessage": message})
            kind, detail, logged = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self._discard(worker)
            code = worker.process.poll()
            message = f"the worker exited (exit code {code}): {exc or 'connection closed'}"
            return outcome("error", error={"errorType": "Runtime.ExitError", "errorMessage": message})
        self._release(worker)
        invocation = (
            outcome("ok", payload=json.loads(detail)) if kind == "ok" else outcome("error", error=detail)
        )
        invocation.correlation_id = logged.get("correlation_id")
        invocation.log_lines = logged.get("lines", [])
        return invocation

    def close(self) -> list[_Worker]:
        """Refuse new invocations, ask idle workers to exit; returns the workers to `finish`."""
        with self._condition:
            self._closed = True
            workers, self._idle = [*self._idle, *self._busy], []
            self._condition.notify_all()
        for worker in workers:
            worker.ask_to_stop()  # a busy one will not read it; finish() kills it
        return workers


def close_all(runtimes: list[FunctionRuntime], grace: float = 1.0) -> None:
    """Stop every worker of every runtime, all at once rather than one after the other."""
    workers = [worker for runtime in runtimes for worker in runtime.close()]
    deadline = time.monotonic() + grace
    for worker in workers:
        worker.finish(deadline)
