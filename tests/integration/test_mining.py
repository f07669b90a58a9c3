"""The archive's definitions agree with each other: mining.yaml is what `make mining` writes from the query
files (so Athena's named queries are the files `python -m ops mine` runs), its partition projection lists
exactly the fact types the contexts publish, each published stream has a delivery stream whose JQ query
partitions a real CloudEvent by its type and day, and every named query runs on DuckDB over a small archive
in the real layout, counting a duplicated record once."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import jq
import pytest
from samcli.yamlhelper import yaml_parse

from eventcore.messaging.cloudevents import commit_to_cloudevents
from eventcore.write.events import RecordedEvent
from eventcore.write.store import Commit
from ops.mining import ArchiveEngine, named_queries
from ops.mining.catalogue import CATALOGUE, CONTEXTS, catalogue, published_facts

ROOT = Path(__file__).resolve().parents[2]


def template() -> dict[str, Any]:
    return dict(yaml_parse((ROOT / "template.yaml").read_text()))


def test_mining_yaml_is_what_make_mining_writes() -> None:
    assert CATALOGUE.read_text() == catalogue(), "mining.yaml is stale: run `make mining`"


def test_every_named_query_is_an_athena_named_query_with_the_files_text() -> None:
    resources = yaml_parse(CATALOGUE.read_text())["Resources"]
    athena = {
        r["Properties"]["Name"]: r["Properties"]["QueryString"]
        for r in resources.values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }
    assert athena == {name: query.sql for name, query in named_queries().items()}


def test_the_tables_fact_partitions_are_the_published_fact_types() -> None:
    table = yaml_parse(CATALOGUE.read_text())["Resources"]["ArchiveEventsTable"]["Properties"]["TableInput"]
    facts = table["Parameters"]["projection.fact.values"].split(",")
    assert sorted(facts) == sorted(f for types in published_facts().values() for f in types)
    assert table["Parameters"]["projection.context.values"].split(",") == list(CONTEXTS)


def _cloudevent() -> dict[str, Any]:
    recorded = RecordedEvent("e-1", "OrderCreated", 3, '{"order_id": "o-1"}', "2026-11-26T23:59:59.999999Z")
    commit = Commit("Order-o-1", 1, (recorded,), "c", "f", "2026-11-26T23:59:59.999999Z")
    return commit_to_cloudevents(commit, source="urn:x:orders", type_prefix="com.example.orders")[0]


def test_each_published_stream_is_archived_under_its_context_partitioned_by_type_and_day() -> None:
    resources = template()["Resources"]
    deliveries = {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"
    }
    sources = {
        d["KinesisStreamSourceConfiguration"]["KinesisStreamARN"]["Fn::GetAtt"][0]
        for d in deliveries.values()
    }
    assert sources == {name for name, r in resources.items() if r["Type"] == "AWS::Kinesis::Stream"}
    contexts = set()
    for properties in deliveries.values():
        destination = properties["ExtendedS3DestinationConfiguration"]
        prefix = destination["Prefix"]
        context = prefix.split("context=")[1].split("/")[0]
        contexts.add(context)
        assert prefix == (
            f"events/context={context}/fact=!{{partitionKeyFromQuery:fact}}/day=!{{partitionKeyFromQuery:day}}/"
        )
        processors = destination["ProcessingConfiguration"]["Processors"]
        query = processors[0]["Parameters"][0]["ParameterValue"]
        assert jq.compile(query).input_value(_cloudevent()).first() == {
            "fact": "OrderCreated",
            "day": "2026-11-26",
        }
        assert destination["CompressionFormat"] == "GZIP"
    assert contexts == set(CONTEXTS)


def _write(root: Path, context: str, fact: str, day: str, documents: list[dict[str, Any]]) -> None:
    folder = root / "events" / f"context={context}" / f"fact={fact}" / f"day={day}"
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(document) + "\n" for document in documents)
    (folder / f"archive-1-{day}-00-00-00-{len(list(folder.iterdir()))}.gz").write_bytes(
        gzip.compress(lines.encode())
    )


def _event(
    event_id: str, fact: str, subject: str, data: dict[str, Any], context: str = "orders"
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"urn:orders-microsystem:{context}",
        "type": f"com.example.{context}.{fact}.v1",
        "subject": subject,
        "time": "2026-11-26T10:00:00.000000Z",
        "data": data,
        "sequence": "000000000001",
    }


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    created = _event(
        "e1",
        "OrderCreated",
        "o1",
        {
            "placed_at": "2026-11-26T10:00:00Z",
            "campaign_code": None,
            "currency": "EUR",
            "total": 1000,
            "discount": 0,
        },
    )
    _write(tmp_path, "orders", "OrderCreated", "2026-11-26", [created])
    _write(tmp_path, "orders", "OrderCreated", "2026-11-26", [created])  # delivered twice
    cancelled = _event(
        "e2", "OrderCancelled", "o1", {"reason": "payment_declined", "cancelled_at": "2026-11-27T01:00:00Z"}
    )
    _write(tmp_path, "orders", "OrderCancelled", "2026-11-27", [cancelled])
    return tmp_path


def test_sales_are_net_of_refunds_each_counted_once(archive: Path) -> None:
    created = _event(
        "e3",
        "OrderCreated",
        "o2",
        {
            "placed_at": "2026-11-26T11:00:00Z",
            "campaign_code": None,
            "currency": "EUR",
            "total": 2995,
            "discount": 0,
        },
    )
    refunded = _event("e4", "ReturnRefunded", "o2", {"return_id": "r-1", "amount": 1250})
    _write(archive, "orders", "OrderCreated", "2026-11-26", [created])
    _write(archive, "orders", "ReturnRefunded", "2026-11-28", [refunded])
    _write(archive, "orders", "ReturnRefunded", "2026-11-28", [refunded])  # delivered twice
    [sales] = ArchiveEngine(archive).run(named_queries()["orders_by_day_and_campaign"].sql).records()
    assert (sales["revenue"], sales["refunds"], sales["net_revenue"]) == (3995, 1250, 2995 - 1250)


def test_every_named_query_runs_on_duckdb_and_counts_a_duplicated_record_once(archive: Path) -> None:
    engine = ArchiveEngine(archive)
    for query in named_queries().values():
        engine.run(query.sql)  # no error: the dialect both engines read
    sales = engine.run(named_queries()["orders_by_day_and_campaign"].sql).records()
    assert sales == [
        {
            "day": "2026-11-26",
            "campaign": "none",
            "currency": "EUR",
            "orders": 1,
            "revenue": 1000,
            "discounts": 0,
            "cancelled_orders": 1,
            "net_orders": 0,
            "refunds": 0,
            "net_revenue": 0,
        }
    ]
    held = engine.run(named_queries()["facts_by_context_and_type"].sql).records()
    assert [(row["fact"], row["records"], row["events"]) for row in held] == [
        ("OrderCancelled", 1, 1),
        ("OrderCreated", 2, 1),
    ]


def test_a_day_bound_reads_only_that_days_partition(archive: Path) -> None:
    engine = ArchiveEngine(archive, since="2026-11-27", until="2026-11-27")
    assert engine.run("SELECT fact, count(*) FROM events GROUP BY fact").rows == [("OrderCancelled", 1)]


def test_an_empty_archive_answers_every_query_with_no_rows(tmp_path: Path) -> None:
    engine = ArchiveEngine(tmp_path)
    assert all(not engine.run(query.sql).rows for query in named_queries().values())


def test_ops_mine_lists_the_queries_checks_the_catalogue_and_prints_a_readable_table(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.cli import main

    assert main(["mine", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in named_queries())
    assert main(["mine", "--catalogue", "--check"]) == 0
    assert main(["mine", "orders_by_status", "--archive", str(archive)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["status", "orders"]
    assert table[2].split() == ["cancelled", "1"]
    assert (
        main(["mine", "SELECT count(DISTINCT id) AS events FROM events", "--archive", str(archive), "--csv"])
        == 0
    )
    assert capsys.readouterr().out.splitlines() == ["events", "2"]
    assert main(["mine", "no_such_query", "--archive", str(archive)]) == 2
