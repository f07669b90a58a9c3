"""Workers forked from a process that has already imported what most functions import (boto3, botocore,
pydantic, Powertools), rather than each a fresh interpreter importing them again: on 2 cores a worker's init
was about 0.7 s of CPU, 0.45 s of it those imports, and a local cloud of 20 functions starts 20 workers.

One fork server per local-cloud process, started at the first worker (`python -m localcloud.forkserver`, a
fresh interpreter: forking the local cloud itself, with its threads, would not be safe). It serves one
request at a time over a socket pair: the worker's environment, and as file descriptors its end of the
worker's connection and its output; it forks, and answers the child's pid. The child takes the environment
whole, points its standard output and error at the output, and runs the worker (worker_main.run_worker)
as a fresh worker would. The server ignores SIGCHLD, so the kernel reaps its children: a worker is alive
while its pid is (`ForkedProcess.poll`), and its exit code is not known (reported as -1). The server exits
when the local cloud's end of the socket closes (the local cloud stopped or died); its workers exit when
their own connections close, as before.

Where fork is not available, or the server cannot start, workers start as fresh interpreters
(workers.py)."""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = ["ForkedProcess", "fork_worker"]

# Imported once by the server: what most functions import. A module that is not installed is skipped.
PRELOAD = (
    "boto3",
    "botocore.session",
    "pydantic",
    "aws_lambda_powertools",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.typing",
)
_MAX_MESSAGE = 1 << 20


class ForkedProcess:
    """What workers.py needs of a `subprocess.Popen`, for a process the fork server started."""

    returncode: int | None = None

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -1  # gone (reaped by the server): its exit code is not known here
            except PermissionError:
                pass  # alive, another user's: not ours, but not gone either
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode


class _Server:
    def __init__(self, environment: dict[str, str]) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.forkserver", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=environment,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.socket = ours
        self.lock = threading.Lock()

    def fork(self, environment: dict[str, str], connection_fd: int, output_fd: int) -> int:
        request = pickle.dumps(environment)
        with self.lock:
            socket.send_fds(
                self.socket, [len(request).to_bytes(4, "big") + request], [connection_fd, output_fd]
            )
            answer = b""
            while len(answer) < 8:
                more = self.socket.recv(8 - len(answer))
                if not more:
                    raise OSError("the fork server is gone")
                answer += more
        return int.from_bytes(answer, "big")

    def close(self) -> None:
        self.socket.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


_server: _Server | None = None
_server_lock = threading.Lock()


def fork_worker(environment: dict[str, str], connection_fd: int, output_fd: int) -> ForkedProcess | None:
    """A worker forked by this process's fork server, or None where there is none (start a fresh one)."""
    global _server
    if not hasattr(os, "fork") or os.environ.get("LOCALCLOUD_FORK_SERVER") == "0":
        return None
    try:
        with _server_lock:
            if _server is None or _server.process.poll() is not None:
                _server = _Server(environment)
                atexit.register(_server.close)
            server = _server
        return ForkedProcess(server.fork(environment, connection_fd, output_fd))
    except OSError:
        return None


# ----- the server's side -----


def serve(control: socket.socket) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group; the cloud decides
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the workers
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            __import__(name)
    from localcloud.worker_main import run_worker

    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, _MAX_MESSAGE, 2)
        except OSError:
            return
        if not data:
            return  # the local cloud closed its end
        size = int.from_bytes(data[:4], "big")
        while len(data) < 4 + size:
            more = control.recv(4 + size - len(data))
            if not more:
                return
            data += more
        environment = pickle.loads(data[4 : 4 + size])
        connection_fd, output_fd = fds
        pid = os.fork()
        if pid == 0:
            control.close()
            _become_worker(environment, connection_fd, output_fd, run_worker)
        os.close(connection_fd)
        os.close(output_fd)
        control.sendall(pid.to_bytes(8, "big"))


def _become_worker(environment: dict[str, str], connection_fd: int, output_fd: int, run: Any) -> None:
    from multiprocessing.connection import Connection

    code = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        os.environ.clear()
        os.environ.update(environment)
        run(Connection(connection_fd))
    except BaseException:
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
