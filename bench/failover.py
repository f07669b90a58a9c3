"""A failover drill (docs/failover.md) on the local cloud in two regions: clients place orders through the
primary's gateway at a steady rate, the primary is cut mid-flow (`python -m ops regions cut`: its gateway,
functions and queue contents gone), the standby is promoted (`python -m ops failover --to <standby>`), and
the clients retry with their idempotency keys against the standby's gateway until it takes them. The drill
itself is tests/support/failover_drill.py; the suite runs a shorter one (tests/regions/).

The last line is JSON: acknowledged_orders, lost (answered 201 but not in the standby's log: goal 0),
duplicated (an idempotency key that made two orders: goal 0), final_statuses (the orders' statuses in the
standby's view once its sagas settled: every saga ends in a final status), provider_authorizations_per_order
(1), seconds_to_first_order_after_cut (measured on this machine, no goal: the cut, the operator's promotion
through the ops CLI, and the functions seeing it within ActiveRegionCacheSeconds, 1 s here), and the pair's
start-up time."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import offline  # noqa: F401  (before the layers are imported: puts them on the path; fake AWS account)

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / name) for name in ("payments", "inventory", "shipping")]

from tests.support.failover_drill import run_drill, start_drill_pair  # noqa: E402

ORDERS_BEFORE_CUT = 30
ORDERS_AFTER_CUT = 10
INTERVAL_SECONDS = 0.25  # 4 orders/s offered to the primary


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as logs:
        regions = start_drill_pair(function_logs=Path(logs))
        try:
            start_seconds = time.monotonic() - started
            result = run_drill(
                regions,
                before_cut=ORDERS_BEFORE_CUT,
                after_cut=ORDERS_AFTER_CUT,
                interval=INTERVAL_SECONDS,
            )
        finally:
            regions.stop()
    result["offered_orders_per_second"] = round(1 / INTERVAL_SECONDS, 1)
    result["pair_start_seconds"] = round(start_seconds, 1)
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
