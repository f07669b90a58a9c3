"""Projection benchmark: writes per stream batch, projector throughput, and rebuild throughput against a
per-event-write baseline measured in the same run, against moto in process. The last line printed is one
JSON object.

    make bench            # or: .venv/bin/python bench/projection.py

Workload: counter aggregates (tests/support/counter.py) with one event per commit, so batch shapes are
exact (an order has at most three events); the projection is the generic core's, the view table has the
OrdersView schema. Batches are one stream batch each, records interleaved across aggregates (a seeded
shuffle that keeps each aggregate's order, as a shard does). Requests counted with botocore's
`before-call` event hooks. Times are medians of 3 runs.

Baseline (same run, same records): the naive per-event projector, which for every event reads the row,
applies the event and writes the row back conditionally: 1 read + 1 write per event.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections import Counter
from typing import Any

import boto3
import offline  # noqa: F401  (before the layers are imported: puts them on the path; fake AWS account)
from moto import mock_aws

from microsystem import Commit, DynamoDBEventStore, fingerprint
from microsystem.changes import decode_change_record
from microsystem.projection import Projection, Projector
from microsystem.rebuild import rebuild, scan_log
from microsystem.viewstore import DynamoDBViewStore, ViewRow
from tests.support.aws import create_table
from tests.support.counter import Incremented, counter_decider
from tests.support.read_side import ddb_record

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
REPEATS = 3
decider = counter_decider()


def project_counter(view: dict[str, Any] | None, event: Any) -> dict[str, Any]:
    view = view or {"value": 0, "increments": 0}
    return {"value": view["value"] + event.by, "increments": view["increments"] + 1}


projection = Projection(decider.aggregate, "order_id", decider.registry, project_counter)


class Requests:
    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def writes(self) -> int:
        return sum(n for name, n in self.counts.items() if name in WRITES)

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


def main() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with mock_aws():
        client = boto3.client("dynamodb")
        requests = Requests(client)

        # A batch of 100 records over 10 aggregates: how many writes?
        small = history("s", 10, 10)
        store = log_of(client, "log-small", small)
        views = fresh_view(client, "view-small")
        records = [decode_change_record(ddb_record(c, 10**20 + i)) for i, c in enumerate(small)]
        requests.reset()
        result = Projector(projection, store, views).handle(records)
        assert not result.failures, result.failures
        results["writes_per_batch_100_over_10"] = requests.writes()
        results["reads_per_batch_100_over_10"] = sum(requests.counts.values()) - requests.writes()

        # 1,000 records over 100 aggregates: the projector (one batch), the per-event baseline, the rebuild.
        large = history("l", 100, 10)
        store = log_of(client, "log-large", large)
        keys = sorted({projection.key(c.stream_id) for c in large})
        records = [decode_change_record(ddb_record(c, 10**20 + i)) for i, c in enumerate(large)]
        projector_s, baseline_s, rebuild_s, fresh_s, scan_s = [], [], [], [], []
        for run in range(REPEATS):
            views = fresh_view(client, f"view-projected-{run}")
            requests.reset()
            started = time.perf_counter()
            result = Projector(projection, store, views).handle(records)
            projector_s.append(time.perf_counter() - started)
            assert not result.failures
            assert result.events_applied == len(large)
            results["writes_per_batch_1000_over_100"] = requests.writes()

            baseline = fresh_view(client, f"view-baseline-{run}")
            requests.reset()
            started = time.perf_counter()
            per_event_baseline(client, store, baseline, records)
            baseline_s.append(time.perf_counter() - started)
            results["baseline_writes_1000"] = requests.writes()
            assert sum(requests.counts.values()) == 2 * requests.writes()

            rebuilt = fresh_view(client, f"view-rebuilt-{run}")
            requests.reset()
            started = time.perf_counter()
            rebuild(projection, client, "log-large", rebuilt, segments=4, progress=lambda _: None)
            rebuild_s.append(time.perf_counter() - started)
            results["rebuild_requests_1000"] = sum(requests.counts.values())
            results["rebuild_scan_requests_1000"] = requests.counts["Scan"]

            fresh = fresh_view(client, f"view-fresh-{run}")
            requests.reset()
            started = time.perf_counter()
            rebuild(projection, client, "log-large", fresh, segments=4, fresh=True, progress=lambda _: None)
            fresh_s.append(time.perf_counter() - started)
            results["rebuild_fresh_requests_1000"] = sum(requests.counts.values())

            # Where a rebuild's time goes under moto: the scan alone.
            started = time.perf_counter()
            scan_log(client, "log-large", stream_prefix="Counter-", segments=4, progress=lambda _: None)
            scan_s.append(time.perf_counter() - started)

            for other in (baseline, rebuilt, fresh):
                assert same_rows(views, other, keys)
            assert views.get_many(keys[:1])[keys[0]] == ViewRow(
                {"order_id": keys[0], "value": 55, "increments": 10}, 10
            )

    events = len(large)
    projector_eps = events / statistics.median(projector_s)
    baseline_eps = events / statistics.median(baseline_s)
    rebuild_eps = events / statistics.median(rebuild_s)
    results.update(
        {
            "events_per_second": round(projector_eps),
            "baseline_per_event_events_per_second": round(baseline_eps),
            "rebuild_events_per_second": round(rebuild_eps),
            "rebuild_fresh_events_per_second": round(events / statistics.median(fresh_s)),
            "speedup_vs_per_event": round(rebuild_eps / baseline_eps, 2),
            "fresh_speedup_vs_per_event": round(events / statistics.median(fresh_s) / baseline_eps, 2),
            "scan_share_of_rebuild": round(statistics.median(scan_s) / statistics.median(rebuild_s), 2),
            "baseline_requests_1000": results["baseline_writes_1000"] * 2,
            "projector_speedup_vs_per_event": round(projector_eps / baseline_eps, 2),
        }
    )
    return results


if __name__ == "__main__":
    figures = main()
    figures["target_writes_per_batch_100_over_10_met"] = figures["writes_per_batch_100_over_10"] <= 10
    figures["target_rebuild_5x_per_event_met"] = figures["speedup_vs_per_event"] >= 5
    for name, value in figures.items():
        print(f"{name:45} {value}")
    print(json.dumps(figures))
