"""What runs inside a function's worker process: set up its environment, import the handler, serve invokes.

Kept apart from workers.py so that the child imports as little as possible of the local cloud itself. What
the function writes to stdout and stderr goes to the worker's output (the function log file) and is also
kept per invocation, with the correlation id its structured logs carry, for the local cloud's report.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import signal
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any, TextIO

from localcloud.context import LambdaContext

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

MAX_LINES_KEPT = 200


class _LogTee(io.TextIOBase):
    """A text stream that writes through and keeps the lines of the current invocation."""

    def __init__(self, target: TextIO, log: _InvocationLog) -> None:
        self._target = target
        self._log = log
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._target.write(text)
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._log.add(line)
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def fileno(self) -> int:
        return self._target.fileno()


class _InvocationLog:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.correlation_id: str | None = None

    def add(self, line: str) -> None:
        if len(self.lines) < MAX_LINES_KEPT:
            self.lines.append(line)
        if line.startswith("{") and '"correlation_id"' in line:
            try:
                found = json.loads(line).get("correlation_id")
            except ValueError:
                return
            if isinstance(found, str) and found:
                self.correlation_id = found

    def take(self) -> dict[str, Any]:
        taken = {"lines": self.lines, "correlation_id": self.correlation_id}
        self.lines, self.correlation_id = [], None
        return taken


def run_worker(conn: Connection) -> None:
    """Init phase (environment, path, handler import), then one invocation per message until told to stop."""
    # Ctrl-C reaches the whole process group; the local cloud itself decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup = conn.recv()
    os.environ.update(setup["environment"])
    sys.path[:0] = setup["paths"]
    os.chdir(setup["paths"][0])
    log = _InvocationLog()
    # Before the handler's import, so that loggers created at import time write through the tee.
    sys.stdout = _LogTee(sys.stdout, log)
    sys.stderr = _LogTee(sys.stderr, log)
    try:
        module_name, _, function_name = setup["handler"].rpartition(".")
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as exc:
        conn.send(("init_error", _error(exc, "Runtime.ImportModuleError")))
        return
    log.take()  # what init printed stays in the log file, not in the first invocation's report
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the local cloud went away: so does this worker
        if message is None:
            return
        conn.send(("started", None))
        request_id, event, timeout = message
        context = LambdaContext(
            function_name=setup["function_name"],
            function_version="$LATEST",
            invoked_function_arn=setup["function_arn"],
            memory_limit_in_mb=int(setup["memory_size"]),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{setup['function_name']}",
            log_stream_name=f"localcloud/{os.getpid()}",
            deadline_epoch=time.time() + timeout,
        )
        try:
            result = handler(event, context)
        except BaseException as exc:
            _flush()
            conn.send(("error", _error(exc, type(exc).__name__), log.take()))
            continue
        _flush()
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            # What Lambda does with a return value it cannot serialise.
            conn.send(("error", _error(exc, "Runtime.MarshalError"), log.take()))
            continue
        conn.send(("ok", payload, log.take()))


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()


def _error(exc: BaseException, error_type: str) -> dict[str, Any]:
    return {
        "errorType": error_type,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


if __name__ == "__main__":
    from multiprocessing.connection import Connection as _Connection

    run_worker(_Connection(int(sys.argv[1])))
