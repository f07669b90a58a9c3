"""Function runtimes: worker processes per function, with Lambda's timeout and cold/warm starts.

Each worker is a spawned process that imports the handler once (the cold start) and then serves one
invocation at a time, like a Lambda execution environment. A function keeps a small pool of them and
starts another when all are busy. A worker that times out or dies is killed and replaced on demand; nothing
a function does can stop the local cloud.
"""

from __future__ import annotations

import contextlib
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

__all__ = ["FunctionRuntime", "Invocation", "close_all"]

# Lambda allows 10 s for the init phase; here several workers may import at once on few cores.
INIT_TIMEOUT_SECONDS = 30.0
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)


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

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Worker:
    """A worker process, talked to over a socket pair with multiprocessing's message framing.

    A fresh interpreter (`python -m localcloud.worker_main`) rather than multiprocessing's spawn: spawn would
    re-import the caller's main script, which breaks scripts without a `__main__` guard.
    """

    def __init__(self, setup: dict[str, Any], logs: BinaryIO | None = None) -> None:
        parent_socket, child_socket = socket.socketpair()
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([_REPO_ROOT, *sys.path[1:]])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.worker_main", str(child_socket.fileno())],
            pass_fds=[child_socket.fileno()],
            env=environment,
            stdout=logs,
            stderr=subprocess.STDOUT if logs is not None else None,
        )
        child_socket.close()
        self.conn = Connection(parent_socket.detach())
        self.conn.send(setup)
        self.ready = False
        self.init_error: dict[str, Any] | None = None
        self.invocations = 0

    def wait_ready(self) -> None:
        """Block until the handler is imported (or failed to import)."""
        if self.ready or self.init_error:
            return
        if not self.conn.poll(INIT_TIMEOUT_SECONDS):
            self.init_error = {"errorType": "Runtime.InitTimeout", "errorMessage": "init took too long"}
            return
        try:
            kind, detail = self.conn.recv()
        except EOFError:
            kind, detail = "init_error", {"errorType": "Runtime.ExitError", "errorMessage": "worker exited"}
        if kind == "ready":
            self.ready = True
        else:
            self.init_error = detail

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
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
    """A function's pool of workers; `invoke` runs one event through an idle worker."""

    def __init__(
        self, setup: dict[str, Any], timeout: float, max_workers: int = 2, logs: BinaryIO | None = None
    ) -> None:
        self.name: str = setup["function_name"]
        self._logs = logs
        self.setup = setup
        self.timeout = timeout
        self.max_workers = max_workers
        self._idle: list[_Worker] = []
        self._count = 0
        self._all: set[_Worker] = set()  # busy ones too, so that close() can end them all
        self._condition = threading.Condition()
        self._closed = False

    def prewarm(self) -> None:
        """Start one worker now, so that the first invocation does not pay the process start."""
        with self._condition:
            if self._count == 0 and not self._closed:
                self._count += 1
                worker = _Worker(self.setup, self._logs)
                self._all.add(worker)
                self._idle.append(worker)

    def _acquire(self) -> _Worker:
        with self._condition:
            while True:
                if self._closed:
                    raise RuntimeError("the local cloud is stopping")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.max_workers:
                    self._count += 1
                    break
                self._condition.wait()
        try:
            worker = _Worker(self.setup, self._logs)
        except BaseException:
            self._discard(None)
            raise
        with self._condition:
            self._all.add(worker)
        return worker

    def _release(self, worker: _Worker) -> None:
        with self._condition:
            if self._closed:
                worker.ask_to_stop()
                worker.finish(time.monotonic() + 1)
                return
            self._idle.append(worker)
            self._condition.notify()

    def _discard(self, worker: _Worker | None) -> None:
        if worker is not None:
            worker.kill()
        with self._condition:
            self._count -= 1
            self._all.discard(worker)  # type: ignore[arg-type]
            self._condition.notify()

    def invoke(self, event: Any, trigger: str, batch_size: int = 1) -> Invocation:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        worker = self._acquire()
        worker.wait_ready()
        cold = worker.invocations == 0
        worker.invocations += 1

        def outcome(status: str, payload: Any = None, error: dict[str, Any] | None = None) -> Invocation:
            duration = (time.monotonic() - started) * 1000
            return Invocation(
                self.name, trigger, batch_size, status, duration, cold, request_id, payload, error
            )

        if worker.init_error is not None:
            self._discard(worker)
            return outcome("error", error=worker.init_error)
        try:
            worker.conn.send((request_id, event, self.timeout))
            if not worker.conn.poll(self.timeout):
                # Lambda stops the environment on a timeout; so do we, and the next call starts cold.
                self._discard(worker)
                message = f"Task timed out after {self.timeout:.2f} seconds"
                return outcome("timeout", error={"errorType": "Sandbox.Timedout", "errorMessage": message})
            kind, detail = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self._discard(worker)
            code = worker.process.poll()
            message = f"the worker exited (exit code {code}): {exc or 'connection closed'}"
            return outcome("error", error={"errorType": "Runtime.ExitError", "errorMessage": message})
        self._release(worker)
        if kind == "ok":
            return outcome("ok", payload=json.loads(detail))
        return outcome("error", error=detail)

    def close(self) -> list[_Worker]:
        """Refuse new invocations, ask idle workers to exit; returns the workers to `finish`."""
        with self._condition:
            self._closed = True
            workers, self._idle = list(self._all), []
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
