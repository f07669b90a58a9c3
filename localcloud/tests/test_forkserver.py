"""Workers forked from the fork server (forkserver.py): a forked worker runs its handler with the environment
it was given, whole (not the server's), answers as a fresh one does, is seen gone once it exits or is
killed; and with the server off there is none (workers.py starts a fresh interpreter)."""

from __future__ import annotations

import json
import os
import socket
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from localcloud.forkserver import ForkedProcess, fork_worker

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

PROBE = """import os

def handler(event, context):
    return {"given": os.environ.get("GIVEN"), "set_up": os.environ.get("SET_UP"), "pid": os.getpid()}
"""


def start(tmp_path: Path, environment: dict[str, str]) -> tuple[ForkedProcess, Connection]:
    (tmp_path / "probe.py").write_text(PROBE)
    ours, theirs = socket.socketpair()
    with open(tmp_path / "out.log", "ab") as output:
        process = fork_worker(environment, theirs.fileno(), output.fileno())
    theirs.close()
    assert isinstance(process, ForkedProcess)
    connection = Connection(ours.detach())
    connection.send(
        {
            "environment": {"SET_UP": "by the setup"},
            "paths": [str(tmp_path)],
            "handler": "probe.handler",
            "function_name": "probe",
            "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:probe",
            "memory_size": 128,
        }
    )
    assert connection.poll(60)
    assert connection.recv() == ("ready", None)
    return process, connection


def test_a_forked_worker_runs_its_handler_with_the_environment_it_was_given(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if key not in ("SET_UP", "GIVEN")}
    # The server is running (this one started it, if no earlier worker of this process did) without GIVEN.
    first, first_connection = start(tmp_path, environment)
    first_connection.send(None)
    first.wait(timeout=30)
    process, connection = start(tmp_path, {**environment, "GIVEN": "to this worker"})
    connection.send(("request-1", {}, 5.0))
    assert connection.recv() == ("started", None)
    kind, payload, _ = connection.recv()
    assert kind == "ok"
    assert json.loads(payload) == {"given": "to this worker", "set_up": "by the setup", "pid": process.pid}
    assert process.poll() is None
    connection.send(None)  # asked to stop: it exits, and is seen gone
    assert process.wait(timeout=30) == -1


def test_a_killed_forked_worker_is_seen_gone(tmp_path: Path) -> None:
    process, connection = start(tmp_path, dict(os.environ))
    process.kill()
    assert process.wait(timeout=30) == -1
    assert process.poll() == -1
    connection.close()


def test_with_the_fork_server_off_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALCLOUD_FORK_SERVER", "0")
    assert fork_worker(dict(os.environ), 0, 2) is None
