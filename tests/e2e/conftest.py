"""One local cloud over the project's own template for every end-to-end module: starting one costs seconds
(a worker process per function), so the modules share it, each with customers, orders and SKUs of its own.

Its parameters suit every module: a 60 s fulfillment deadline (the payment that never answers is cancelled
within a test's patience, while forty customers buying kettles at once are answered in time even with two
CPU burners beside the two test workers: at 30 s some were cancelled `stock_timeout`), and caches of 1 s
for data keys and read-model generations (an erasure or a switch is seen at once everywhere), and a return
window of 1 s (a return after it is refused at once). `start()`
returns only once every function has a worker past its init phase, so the first request finds a warm
function even on a loaded machine; the health endpoint must say so too.

Only one LocalCloud may run per process, and stopping it resets moto's in-process state: these tests use
no `mock_aws` fixture."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from localcloud import LocalCloud
from tests.support.orders import order_body

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
DEADLINE_SECONDS = 60
PARAMETERS = {
    "FulfillmentDeadlineSeconds": str(DEADLINE_SECONDS),
    "PersonalDataKeyCacheSeconds": "1",
    "ViewGenerationsCacheSeconds": "1",
    "ReturnWindowSeconds": "1",  # a return outside its window is tried within a test's patience
}


# What the contract test (test_api_contract.py) measured, one line per operation, for the terminal summary.
CONTRACT_FIGURES = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    figures = config.stash.get(CONTRACT_FIGURES, [])
    if figures:
        terminalreporter.section("API contract (Schemathesis)")
        for line in figures:
            terminalreporter.write_line(line)


@pytest.fixture(scope="package")
def cloud_report() -> io.StringIO:
    """The local cloud's one line per invocation."""
    return io.StringIO()


@pytest.fixture(scope="package")
def cloud_function_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything the functions logged."""
    return tmp_path_factory.mktemp("e2e-cloud") / "functions.log"


@pytest.fixture(scope="package")
def cloud(cloud_report: io.StringIO, cloud_function_logs: Path) -> Iterator[LocalCloud]:
    with LocalCloud(
        TEMPLATE,
        port=0,
        moto_port=0,
        output=cloud_report,
        function_logs=cloud_function_logs,
        parameter_overrides=PARAMETERS,
    ) as running:
        health = requests.get(f"{running.gateway_url}/_localcloud/health", timeout=30).json()
        assert health["ready"], health
        yield running


UNANSWERED_SKU = "SKU-TEA-002"  # no other end-to-end module orders it: its stock must come back whole


def place(cloud: LocalCloud, customer: str, body: dict[str, Any]) -> str:
    response = requests.post(
        f"{cloud.gateway_url}/orders",
        json=body,
        headers={"Authorization": f"Bearer {cloud.token(customer)}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["order_id"])


def stock(cloud: LocalCloud, sku: str) -> dict[str, Any]:
    staff = {"Authorization": f"Bearer {cloud.token('wh-1', scopes=['orders/warehouse'])}"}
    response = requests.get(f"{cloud.gateway_url}/inventory/{sku}", headers=staff, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="package", autouse=True)
def unanswered(cloud: LocalCloud) -> dict[str, Any]:
    """An order whose payment the provider never answers, placed as the first end-to-end test starts so that
    its deadline runs out while the other modules run (test_stock_and_deadlines.py waited a whole minute
    for it): its SKU's stock before it, and its id."""
    before = stock(cloud, UNANSWERED_SKU)["available"]
    order_id = place(cloud, "customer-card-unresponsive", order_body((UNANSWERED_SKU, 3)))
    return {"available_before": before, "order_id": order_id}
