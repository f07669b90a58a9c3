"""The failover drill, short (tests/support/failover_drill.py; bench/failover.py runs it longer): the local
cloud in two regions, orders through the primary's gateway, the primary cut mid-flow, the standby promoted
with the ops CLI, the clients retrying with their keys against the standby. Also what a passive standby
refuses (commands: 503 with Retry-After) and what the operator is refused (a promotion while the primary is
active and reachable; a second promotion)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import requests

from ops.cli import main as ops_main
from ops.localregions import PRIMARY, STANDBY
from tests.support.failover_drill import Drill, run_drill, start_drill_pair
from tests.support.orders import order_body

if TYPE_CHECKING:
    from collections.abc import Iterator

    from localcloud import Regions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    logs = tmp_path_factory.mktemp("regions")
    pair = start_drill_pair(function_logs=logs)
    try:
        yield pair
    finally:
        pair.stop()


def test_the_passive_standby_refuses_commands_and_promotion_is_refused_while_the_primary_answers(
    regions: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    drill = Drill(regions)
    client = drill.new_client()
    # A command to the standby: refused, nothing recorded; the same key then succeeds in the primary.
    standby = regions[STANDBY]
    response = requests.post(
        f"{standby.gateway_url}/orders",
        json=order_body(("SKU-TEA-001", 1)),
        headers={"Authorization": f"Bearer {standby.token(client.customer)}", "Idempotency-Key": client.key},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert "standby" in response.json()["message"]
    assert drill.place(client, regions[PRIMARY]) == 201
    # The pair as the operator's CLI lists it, and what it reads from the primary for the standby.
    capsys.readouterr()
    assert ops_main(["--gateway-url", standby.gateway_url, "--json", "regions", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["region"], r["state"]) for r in listed] == [(PRIMARY, "ready"), (STANDBY, "ready")]
    primary = regions[PRIMARY]
    target = ["--endpoint-url", regions.endpoint_url, "--gateway-url", primary.gateway_url, "--json"]
    assert ops_main([*target, "standby-parameters", "--standby-region", STANDBY]) == 0
    given = json.loads(capsys.readouterr().out)
    assert {name: standby.stack.resolver.parameters[name] for name in given} == {
        **given,
        "ReplicatedStreamArns": given["ReplicatedStreamArns"].split(","),
    }
    # Promoting the standby while the primary is active and answers would split the brain: refused.
    assert drill.failover(STANDBY)[0] == 1
    assert f"{PRIMARY} is still active and reachable" in capsys.readouterr().err


def test_no_acknowledged_order_is_lost_duplicated_or_paid_twice_across_a_failover(
    regions: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_drill(regions, before_cut=4, after_cut=2, interval=0.3, settle_timeout=120)
    assert result["promotion_exit_status"] == 0
    assert result["second_promotion_exit_status"] == 1  # already the active region
    assert result["processes_resumed"] >= result["sagas_in_flight_at_cut"]
    assert "already the active region" in capsys.readouterr().err
    assert result["standby_refused_while_passive"] == 1
    assert result["acknowledged_orders"] == 6
    assert result["never_answered"] == 0
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    assert result["sagas_not_in_a_final_status"] == 0, result
    assert result["provider_authorizations_per_order"] == 1, result
