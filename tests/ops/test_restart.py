"""`make run`, an order placed, Ctrl-C, `make run` again: the order is there and its saga finishes. The local
cloud's command line in a child process, as a developer runs it (`python -m localcloud run`, what `make run`
calls), stopped with SIGINT as Ctrl-C stops it, on a state folder of its own. Every wait is a poll with a
deadline."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from ops.template import TEMPLATE
from tests.support.orders import order_body
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.slow

ROOT = TEMPLATE.parent
READY_SECONDS = 180.0  # a cold start of every function on a loaded machine
SAGA_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Run:
    """`python -m localcloud run` in a child process, on its own ports and state folder."""

    def __init__(self, state_dir: Path, log: Path) -> None:
        self.state_dir, self.log = state_dir, log
        self.port, self.moto_port = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, fresh: bool = False) -> None:
        command = [sys.executable, "-m", "localcloud", "run", "--template", str(TEMPLATE)]
        command += ["--state-dir", str(self.state_dir), "--port", str(self.port)]
        command += ["--moto-port", str(self.moto_port), *(["--fresh"] if fresh else [])]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        wait_until(self.ready, timeout=READY_SECONDS, interval=0.5)

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"the local cloud exited ({self.process.returncode}): {self.log.read_text()[-3000:]}"
            )
        try:
            return bool(requests.get(f"{self.url}/_localcloud/health", timeout=5).json().get("ready"))
        except (requests.RequestException, ValueError):
            return False

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT, then its exit (it saves its state on the way out)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def token(self, customer: str) -> str:
        minted = subprocess.run(
            [
                sys.executable,
                "-m",
                "localcloud",
                "token",
                "--template",
                str(TEMPLATE),
                "--customer",
                customer,
                "--state-dir",
                str(self.state_dir),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return minted.stdout.strip()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    running = Run(tmp_path / "state", tmp_path / "localcloud.log")
    try:
        yield running
    finally:
        running.kill()


def test_an_order_placed_just_before_ctrl_c_is_there_after_the_restart_and_its_saga_finishes(
    run: Run,
) -> None:
    # GIVEN a local cloud, and an order placed just before the developer stops it
    run.start(fresh=True)
    # (`make token`'s token: the signing key is kept in the state folder, so it is good after the restart too)
    token = {"Authorization": f"Bearer {run.token('restart-alice')}"}
    placed = requests.post(
        f"{run.url}/orders",
        json=order_body(("SKU-POT-001", 1)),
        headers={**token, "Idempotency-Key": "restart-1"},
        timeout=60,
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    assert run.interrupt() == 0

    # WHEN it is started again on the same state
    run.start()

    # THEN the order is there, and its saga goes on to its final status (asked with the token minted before)
    def status() -> Any:
        response = requests.get(f"{run.url}/orders/{order_id}", headers=token, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["status"] == "confirmed"

    wait_until(status, timeout=SAGA_SECONDS, interval=0.25)
    events = requests.get(f"{run.url}/orders/{order_id}/events", headers=token, timeout=30).json()["events"]
    assert [event["type"] for event in events].count("OrderConfirmed") == 1
    assert os.path.isdir(run.state_dir)
