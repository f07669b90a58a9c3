"""`localcloud invoke` as a pipe's first command (`localcloud invoke F --event e.json | jq`): only the
function's answer on standard output, everything else (the function's prints, log lines and metrics, the local
cloud's own messages) on standard error, as `sam local invoke` does. Through the command line in a child
process, against a fresh local cloud and against a running one."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Iterator

SAMPLE = Path(__file__).parent / "samples" / "chatty"
EVENT = SAMPLE / "events" / "greeting.json"
ANSWER = {"greeting": "hello alice", "lines": 3}


def invoke(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "localcloud", "invoke", "ChattyFunction", "--event", str(EVENT), *args]
    command += ["--template", str(SAMPLE / "template.yaml")]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


@pytest.fixture(scope="module")
def running() -> Iterator[LocalCloud]:
    with LocalCloud(SAMPLE / "template.yaml", port=0, moto_port=0, output=io.StringIO()) as cloud:
        yield cloud


def test_a_fresh_cloud_writes_only_the_answer_to_stdout(tmp_path: Path) -> None:
    # WHEN a function that prints, logs and emits a metric is invoked with no local cloud running
    result = invoke("--port", "1", cwd=tmp_path)
    # THEN stdout parses as exactly its answer, and the rest went to stderr
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ANSWER
    for chatter in ("chatty: init done", "print line 2 for alice", "logging line for alice", "Greetings"):
        assert chatter in result.stderr
    assert "a line on stderr" in result.stderr
    assert "starting a fresh one" in result.stderr


def test_a_running_cloud_answers_on_stdout_and_keeps_the_chatter(running: LocalCloud, tmp_path: Path) -> None:
    assert running.gateway is not None
    result = invoke("--port", str(running.gateway.port), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ANSWER
    assert "invoking through the running local cloud" in result.stderr
    invocation = next(i for i in running.invocations if i.function == "ChattyFunction")
    assert "print line 0 for alice" in invocation.log_lines
