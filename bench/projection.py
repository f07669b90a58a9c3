"""Projection benchmark: writes per stream batch, projector throughput, and rebuild throughput (in place, and
a fresh generation) against a per-event-write baseline measured in the same run. The last line printed is
one JSON object.

    make bench            # or: .venv/bin/python bench/projection.py [--in-process-only]

Against moto as a server in a process of its own (`moto_server`, as the local cloud runs it): a request
then costs a round trip, and the client and the server work side by side on the two cores, which is what
parallel scan segments and writing rows while the scan goes on are for; DynamoDB's time, too, follows its
request count. The same figures in process (`mock_aws`, as before) come second, prefixed `in_process_`:
there a request costs no I/O at all, only moto's Python per item, so a rebuild's speed is bounded by moto
serialising the scanned items whatever the requests (see BENCHMARKS.md).

Workload: counter aggregates (tests/support/counter.py) with one event per commit, so batch shapes are
exact (an order has at most three events); the projection is the generic core's, the view table has the
OrdersView schema. Batches are one stream batch each, records interleaved across aggregates (a seeded
shuffle that keeps each aggregate's order, as a shard does). Requests counted with botocore's
`before-call` event hooks. Times are medians of 3 runs.

Baseline (same run, same records): the naive per-event projector, which for every event reads the row,
applies the event and writes the row back conditionally: 1 read + 1 write per event.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import offline  # noqa: F401  (before the layers are imported: puts them on the path; fake AWS account)
from botocore.config import Config
from moto import mock_aws

from eventcore import Commit, DynamoDBEventStore, fingerprint
from eventcore.read.change_records import decode_change_record
from eventcore.read.generations.bluegreen import ViewGenerations, build
from eventcore.read.generations.lifecycle import Generations
from eventcore.read.generations.log_scan import scan_log
from eventcore.read.generations.registry import InMemoryGenerationRegistry
from eventcore.read.generations.replay import rebuild
from eventcore.read.projector import Projector
from eventcore.read.view_store import DynamoDBViewStore, ViewRow
from tests.support.aws import create_table
from tests.support.counter import COUNTER_PROJECTION, Incremented, counter_decider, counter_projection
from tests.support.read_side import ddb_record

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
REPEATS = 3
SEGMENTS = 4
decider = counter_decider()
projection = counter_projection


class Requests:
    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def writes(self) -> int:
        return sum(n for name, n in self.counts.items() if name in WRITES)

    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()


def history(prefix: str, aggregates: int, events_each: int) -> list[Commit]:
    """Each aggregate's single-event commits, interleaved by a seeded shuffle keeping per-aggregate order."""
    queues = {
        f"{prefix}{a:04d}": [
            Commit(
                stream_id=decider.stream_id(f"{prefix}{a:04d}"),
                version=v,
                events=(
                    decider.registry.encode(
                        Incremented(by=v), event_id=f"{prefix}{a}-{v}", recorded_at="2026-11-26T10:00:00Z"
                    ),
                ),
                command_id=f"{prefix}{a}-{v}",
                fingerprint=fingerprint(v),
                committed_at="2026-11-26T10:00:00Z",
            )
            for v in range(1, events_each + 1)
        ]
        for a in range(aggregates)
    }
    tags = [key for key, commits in queues.items() for _ in commits]
    random.Random(7).shuffle(tags)
    cursors = {key: iter(commits) for key, commits in queues.items()}
    return [next(cursors[tag]) for tag in tags]


def log_of(client: Any, name: str, commits: list[Commit]) -> DynamoDBEventStore:
    create_table(client, "OrdersEventLog", name)
    store = DynamoDBEventStore(name, client)
    for commit in commits:
        store.append(commit)
    return store


def fresh_view(client: Any, name: str) -> DynamoDBViewStore:
    create_table(client, "OrdersView", name)
    return DynamoDBViewStore(name, client, key_attribute="order_id")


def per_event_baseline(
    client: Any, store: DynamoDBEventStore, views: DynamoDBViewStore, records: list
) -> None:
    """The naive projector: read the row, apply one event, write the row, for every event."""
    for record in records:
        commit = record.require_commit()
        key = projection.key(commit.stream_id)
        stored = views.get_many([key]).get(key)
        row = projection.apply(stored, commit)
        if row is not None and row is not stored:
            views.put(key, row, expected_version=stored.version if stored else 0)


def same_rows(a: DynamoDBViewStore, b: DynamoDBViewStore, keys: list[str]) -> bool:
    return a.get_many(keys) == b.get_many(keys)


def new_generation(client: Any, store: DynamoDBEventStore, run: int) -> ViewGenerations:
    """The counter view with a blue generation (active, empty: not measured) and a free green table."""
    blue, green = fresh_view(client, f"view-blue-{run}"), fresh_view(client, f"view-green-{run}")
    registry = InMemoryGenerationRegistry(
        Generations.parse(json.dumps({"blue": {"state": "active", "projection": COUNTER_PROJECTION}}))
    )
    return ViewGenerations("CounterView", projection, client, store, {"blue": blue, "green": green}, registry)


def measure(client: Any) -> dict[str, Any]:
    requests = Requests(client)
    results: dict[str, Any] = {}

    # A batch of 100 records over 10 aggregates: how many writes?
    small = history("s", 10, 10)
    store = log_of(client, "log-small", small)
    views = fresh_view(client, "view-small")
    records = [decode_change_record(ddb_record(c, 10**20 + i)) for i, c in enumerate(small)]
    requests.reset()
    result = Projector(projection, store, views).handle(records)
    assert not result.failures, result.failures
    results["writes_per_batch_100_over_10"] = requests.writes()
    results["reads_per_batch_100_over_10"] = requests.total() - requests.writes()

    # 1,000 records over 100 aggregates: the projector (one batch), the per-event baseline, the rebuilds.
    large = history("l", 100, 10)
    store = log_of(client, "log-large", large)
    keys = sorted({projection.key(c.stream_id) for c in large})
    records = [decode_change_record(ddb_record(c, 10**20 + i)) for i, c in enumerate(large)]
    times: dict[str, list[float]] = {"projector": [], "baseline": [], "rebuild": [], "fresh": []}
    times.update({"generation": [], "scan": []})

    def timed(name: str, action: Any, *args: Any, **kwargs: Any) -> Any:
        requests.reset()
        started = time.perf_counter()
        outcome = action(*args, **kwargs)
        times[name].append(time.perf_counter() - started)
        return outcome

    def quiet(_: str) -> None:
        pass

    for run in range(REPEATS):
        views = fresh_view(client, f"view-projected-{run}")
        result = timed("projector", Projector(projection, store, views).handle, records)
        assert not result.failures
        assert result.events_applied == len(large)
        results["writes_per_batch_1000_over_100"] = requests.writes()

        baseline = fresh_view(client, f"view-baseline-{run}")
        timed("baseline", per_event_baseline, client, store, baseline, records)
        results["baseline_writes_1000"] = requests.writes()
        assert requests.total() == 2 * requests.writes()

        rebuilt = fresh_view(client, f"view-rebuilt-{run}")
        timed("rebuild", rebuild, projection, client, "log-large", rebuilt, segments=SEGMENTS, progress=quiet)
        results["rebuild_requests_1000"] = requests.total()
        results["rebuild_scan_requests_1000"] = requests.counts["Scan"]

        fresh = fresh_view(client, f"view-fresh-{run}")
        timed(
            "fresh",
            rebuild,
            projection,
            client,
            "log-large",
            fresh,
            fresh=True,
            segments=SEGMENTS,
            progress=quiet,
        )
        results["rebuild_fresh_requests_1000"] = requests.total()

        # A new generation, the whole of it but the wait for the functions to read the registry (settle 0:
        # no function runs here): the fresh backfill, the catch-up scan, the registry changes.
        generations = new_generation(client, store, run)
        report = timed("generation", build, generations, settle=0, segments=SEGMENTS, progress=quiet)
        assert report.ready
        results["generation_requests_1000"] = requests.total()
        results["generation_catch_up_scan_requests_1000"] = requests.counts["Scan"] - SEGMENTS - 1

        # Where a rebuild's time goes: the scan alone.
        timed(
            "scan", scan_log, client, "log-large", stream_prefix="Counter-", segments=SEGMENTS, progress=quiet
        )

        for other in (baseline, rebuilt, fresh, generations.stores["green"]):
            assert same_rows(views, other, keys)
        assert views.get_many(keys[:1])[keys[0]] == ViewRow(
            {"order_id": keys[0], "value": 55, "increments": 10}, 10
        )

    events = len(large)
    eps = {name: events / statistics.median(samples) for name, samples in times.items()}
    results.update(
        {
            "events_per_second": round(eps["projector"]),
            "baseline_per_event_events_per_second": round(eps["baseline"]),
            "rebuild_events_per_second": round(eps["rebuild"]),
            "rebuild_fresh_events_per_second": round(eps["fresh"]),
            "generation_events_per_second": round(eps["generation"]),
            "speedup_vs_per_event": round(eps["rebuild"] / eps["baseline"], 2),
            "fresh_speedup_vs_per_event": round(eps["fresh"] / eps["baseline"], 2),
            "generation_speedup_vs_per_event": round(eps["generation"] / eps["baseline"], 2),
            "scan_share_of_rebuild": round(
                statistics.median(times["scan"]) / statistics.median(times["rebuild"]), 2
            ),
            "baseline_requests_1000": results["baseline_writes_1000"] * 2,
            "projector_speedup_vs_per_event": round(eps["projector"] / eps["baseline"], 2),
        }
    )
    results["requests_ratio_baseline_vs_rebuild"] = round(
        results["baseline_requests_1000"] / results["rebuild_requests_1000"], 1
    )
    return results


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto as a server in a process of its own, on a free local port; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"moto_server did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(*, in_process_only: bool = False) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if not in_process_only:
        with moto_server() as url:
            figures["moto"] = "server process"
            # Enough pooled connections for the scan segments and the writer threads side by side.
            client = boto3.client("dynamodb", endpoint_url=url, config=Config(max_pool_connections=32))
            figures.update(measure(client))
    with mock_aws():
        in_process = measure(boto3.client("dynamodb"))
    if in_process_only:
        return {"moto": "in process", **in_process}
    for name in (
        "baseline_per_event_events_per_second",
        "rebuild_events_per_second",
        "rebuild_fresh_events_per_second",
        "generation_events_per_second",
        "speedup_vs_per_event",
        "fresh_speedup_vs_per_event",
        "generation_speedup_vs_per_event",
        "scan_share_of_rebuild",
        "events_per_second",
        "projector_speedup_vs_per_event",
    ):
        figures[f"in_process_{name}"] = in_process[name]
    for name, value in in_process.items():  # counts are the same either way: checked, not repeated
        if name.endswith(("_10", "_1000")):
            assert figures[name] == value, (name, figures[name], value)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-process-only", action="store_true", help="skip the moto server measurements")
    figures = main(in_process_only=parser.parse_args().in_process_only)
    figures["target_writes_per_batch_100_over_10_met"] = figures["writes_per_batch_100_over_10"] <= 10
    figures["target_rebuild_5x_per_event_met"] = figures["speedup_vs_per_event"] >= 5
    figures["target_rebuild_8x_per_event_met"] = figures["speedup_vs_per_event"] >= 8
    for name, value in figures.items():
        print(f"{name:45} {value}")
    print(json.dumps(figures))
