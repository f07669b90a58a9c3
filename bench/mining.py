"""The archive at scale: a synthetic archive of 1,000,000 orders' facts written in the archive's real format
and layout (gzipped JSON lines of CloudEvents as the publishers write them, sealed personal data included,
under events/context=<context>/fact=<EventType>/day=<YYYY-MM-DD>/, one object per partition and hour named
as Firehose names them), then every named query over it with DuckDB (ops/mining), as `python -m ops mine`
runs them; and the same facts as Parquet (what Firehose's record format conversion would write, `data` as a
JSON string, Snappy) for the comparison docs/mining.md draws.

Last line, JSON: `archive_bytes_per_order`, each query's seconds over the whole archive, and the bytes a
day-bounded query (orders_by_day_and_campaign for one day) reads against the whole archive's bytes
(partition pruning, as DuckDB's profile counts the bytes it read), for JSON lines and for Parquet.

    .venv/bin/python bench/mining.py [--orders 1000000] [--days 28] [--parquet] [--keep DIR]

`--parquet` adds the Parquet comparison (about 7 more minutes on 2 cores; `make bench` runs without it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from ops.mining import ArchiveEngine, named_queries  # noqa: E402

START = "2026-11-02"  # a Monday
STREAMS = {
    "orders": "order-events",
    "payments": "payment-events",
    "inventory": "inventory-events",
    "shipping": "shipment-events",
}

# One row per order: when it was placed, its outcome (shares as a shop might see them), amounts.
ORDERS = """
CREATE TABLE orders AS
SELECT
    i,
    CAST(CAST(md5('order' || CAST(i AS VARCHAR)) AS UUID) AS VARCHAR) AS order_id,
    CAST(CAST(md5('payment' || CAST(i AS VARCHAR)) AS UUID) AS VARCHAR) AS payment_id,
    CAST(CAST(md5('shipment' || CAST(i AS VARCHAR)) AS UUID) AS VARCHAR) AS shipment_id,
    'customer-' || CAST(i % 200000 AS VARCHAR) AS customer_id,
    TIMESTAMPTZ '{start} 00:00:00+00' + to_microseconds(CAST(i * ({days} * 86400000000.0 / {orders}) AS BIGINT)) AS placed,
    ['SKU-TEA-001', 'SKU-TEA-002', 'SKU-MUG-001', 'SKU-POT-001', 'SKU-KET-001', 'SKU-SMP-001'][1 + i % 6] AS sku,
    CASE WHEN i % 3 = 0 THEN 'WELCOME10' ELSE NULL END AS campaign,
    CASE
        WHEN hash(i) % 100 < 78 THEN 'delivered'
        WHEN hash(i) % 100 < 84 THEN 'shipped'
        WHEN hash(i) % 100 < 88 THEN 'customer_request'
        WHEN hash(i) % 100 < 93 THEN 'payment_declined'
        WHEN hash(i) % 100 < 97 THEN 'out_of_stock'
        WHEN hash(i) % 100 < 99 THEN 'payment_timeout'
        ELSE 'stock_timeout'
    END AS outcome,
    1250 + (hash(i) % 20) * 500 AS subtotal
FROM range({orders}) AS t(i)
"""

# Every fact of every order, as its context publishes it (CloudEvents, `data` the event's fields).
FACTS = """
CREATE VIEW facts AS
WITH o AS (
    SELECT *,
        CASE WHEN campaign IS NULL THEN 0 ELSE subtotal // 10 END AS discount,
        placed + INTERVAL 2 SECOND AS paid,
        placed + INTERVAL 3 SECOND AS confirmed,
        placed + to_microseconds(CAST(3600000000 * (2 + hash(i) % 40) AS BIGINT)) AS shipped,
        placed + to_microseconds(CAST(3600000000 * (30 + hash(i) % 60) AS BIGINT)) AS delivered,
        placed + INTERVAL 60 SECOND AS cancelled
    FROM orders
),
events AS (
    SELECT 'orders' AS context, 'OrderCreated' AS fact, 3 AS schema, order_id AS subject, 1 AS seq, placed AS happened,
        json_object('order_id', order_id, 'customer_id', customer_id,
            'lines', json_array(json_object('sku', sku, 'name', 'A product', 'quantity', 1, 'unit_price', subtotal, 'line_total', subtotal)),
            'currency', 'EUR', 'subtotal', subtotal, 'discount', discount, 'campaign_code', campaign,
            'shipping', 495, 'total', subtotal - discount + 495, 'destination_country', 'NL',
            'personal', json_object('key_id', customer_id, 'nonce', substr(md5(CAST(order_id AS VARCHAR)), 1, 16),
                'ciphertext', base64(encode(repeat(md5(CAST(order_id AS VARCHAR)), 6)))),
            'placed_at', strftime(placed, '%Y-%m-%dT%H:%M:%S.%fZ')) AS data
    FROM o
    UNION ALL
    SELECT 'orders', 'OrderConfirmed', 1, order_id, 2, confirmed,
        json_object('order_id', order_id, 'payment_id', payment_id, 'confirmed_at', strftime(confirmed, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome IN ('delivered', 'shipped', 'customer_request')
    UNION ALL
    SELECT 'orders', 'OrderShipped', 2, order_id, 3, shipped,
        json_object('order_id', order_id, 'carrier', 'PostNL', 'tracking_number', '3S' || substr(md5(CAST(order_id AS VARCHAR)), 1, 14),
            'shipped_at', strftime(shipped, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome IN ('delivered', 'shipped')
    UNION ALL
    SELECT 'orders', 'OrderDelivered', 1, order_id, 4, delivered,
        json_object('order_id', order_id, 'delivered_at', strftime(delivered, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome = 'delivered'
    UNION ALL
    SELECT 'orders', 'OrderCancelled', 1, order_id, CASE WHEN outcome = 'customer_request' THEN 3 ELSE 2 END, cancelled,
        json_object('order_id', order_id, 'reason', outcome, 'cancelled_at', strftime(cancelled, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome NOT IN ('delivered', 'shipped')
    UNION ALL
    SELECT 'payments', 'PaymentRequested', 1, payment_id, 1, placed + INTERVAL 1 SECOND,
        json_object('payment_id', payment_id, 'order_id', order_id, 'customer_id', customer_id, 'amount', subtotal - discount + 495,
            'currency', 'EUR', 'card_token', customer_id, 'requested_at', strftime(placed + INTERVAL 1 SECOND, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome <> 'payment_timeout'
    UNION ALL
    SELECT 'payments', 'PaymentAuthorized', 1, payment_id, 2, paid,
        json_object('payment_id', payment_id, 'order_id', order_id, 'amount', subtotal - discount + 495, 'currency', 'EUR',
            'authorization_id', substr(md5(CAST(payment_id AS VARCHAR)), 1, 12), 'authorized_at', strftime(paid, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome NOT IN ('payment_declined', 'payment_timeout')
    UNION ALL
    SELECT 'payments', 'PaymentDeclined', 1, payment_id, 2, paid,
        json_object('payment_id', payment_id, 'order_id', order_id, 'reason', 'card_declined', 'declined_at', strftime(paid, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome = 'payment_declined'
    UNION ALL
    SELECT 'payments', 'PaymentVoided', 1, payment_id, 3, cancelled,
        json_object('payment_id', payment_id, 'order_id', order_id, 'reason', outcome, 'authorization_id', substr(md5(CAST(payment_id AS VARCHAR)), 1, 12),
            'voided_at', strftime(cancelled, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome IN ('customer_request', 'out_of_stock', 'stock_timeout')
    UNION ALL
    SELECT 'inventory', 'StockReserved', 1, sku, i, placed + INTERVAL 1 SECOND,
        json_object('sku', sku, 'order_id', order_id, 'quantity', 1, 'reserved_at', strftime(placed + INTERVAL 1 SECOND, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome NOT IN ('out_of_stock', 'stock_timeout')
    UNION ALL
    SELECT 'inventory', 'StockReservationRefused', 1, sku, i, placed + INTERVAL 1 SECOND,
        json_object('sku', sku, 'order_id', order_id, 'requested', 1, 'available', 0, 'refused_at', strftime(placed + INTERVAL 1 SECOND, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome = 'out_of_stock'
    UNION ALL
    SELECT 'inventory', 'StockReleased', 1, sku, i, cancelled,
        json_object('sku', sku, 'order_id', order_id, 'quantity', 1, 'reason', outcome, 'released_at', strftime(cancelled, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome IN ('customer_request', 'payment_declined', 'payment_timeout')
    UNION ALL
    SELECT 'inventory', 'StockCommitted', 1, sku, i, shipped,
        json_object('sku', sku, 'order_id', order_id, 'quantity', 1, 'committed_at', strftime(shipped, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome IN ('delivered', 'shipped')
    UNION ALL
    SELECT 'shipping', 'ShipmentPlanned', 1, shipment_id, 1, placed + INTERVAL 1 SECOND,
        json_object('shipment_id', shipment_id, 'order_id', order_id, 'customer_id', customer_id,
            'lines', json_array(json_object('sku', sku, 'name', 'A product', 'quantity', 1)), 'destination_country', 'NL',
            'personal', json_object('key_id', customer_id, 'nonce', substr(md5(CAST(order_id AS VARCHAR)), 1, 16),
                'ciphertext', base64(encode(repeat(md5(CAST(order_id AS VARCHAR)), 6)))),
            'planned_at', strftime(placed + INTERVAL 1 SECOND, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o
    UNION ALL
    SELECT 'shipping', 'ShipmentReady', 1, shipment_id, 2, confirmed,
        json_object('shipment_id', shipment_id, 'order_id', order_id, 'ready_at', strftime(confirmed, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome IN ('delivered', 'shipped', 'customer_request')
    UNION ALL
    SELECT 'shipping', 'ShipmentDispatched', 1, shipment_id, 3, shipped,
        json_object('shipment_id', shipment_id, 'order_id', order_id, 'carrier', 'PostNL',
            'tracking_number', '3S' || substr(md5(CAST(order_id AS VARCHAR)), 1, 14), 'dispatched_at', strftime(shipped, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome IN ('delivered', 'shipped')
    UNION ALL
    SELECT 'shipping', 'ShipmentDelivered', 1, shipment_id, 4, delivered,
        json_object('shipment_id', shipment_id, 'order_id', order_id, 'delivered_at', strftime(delivered, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome = 'delivered'
    UNION ALL
    SELECT 'shipping', 'ShipmentCancelled', 1, shipment_id, 2, cancelled,
        json_object('shipment_id', shipment_id, 'order_id', order_id, 'reason', outcome, 'cancelled_at', strftime(cancelled, '%Y-%m-%dT%H:%M:%S.%fZ'))
    FROM o WHERE outcome NOT IN ('delivered', 'shipped')
)
SELECT
    '1.0' AS specversion,
    CAST(CAST(md5(CAST(subject AS VARCHAR) || fact || CAST(seq AS VARCHAR)) AS UUID) AS VARCHAR) AS id,
    'urn:orders-microsystem:' || context AS source,
    'com.example.' || context || '.' || fact || '.v' || CAST(schema AS VARCHAR) AS type,
    CAST(subject AS VARCHAR) AS subject,
    strftime(happened, '%Y-%m-%dT%H:%M:%S.%fZ') AS time,
    'application/json' AS datacontenttype,
    data,
    lpad(CAST(seq AS VARCHAR), 12, '0') AS sequence,
    CAST(subject AS VARCHAR) AS partitionkey,
    substr(md5(CAST(subject AS VARCHAR)), 1, 16) AS correlationid,
    context,
    fact,
    strftime(happened, '%Y-%m-%d') AS day,
    strftime(happened, '%H') AS hour
FROM events
"""

COLUMNS = "specversion, id, source, type, subject, time, datacontenttype, data, sequence, partitionkey, correlationid"


def write_json_lines(connection: duckdb.DuckDBPyConnection, root: Path, facts: list[tuple[str, str]]) -> None:
    """The facts as Firehose delivers them: one gzipped JSON-lines object per partition and hour. One fact
    type at a time: a COPY partitioned over every type, day and hour at once keeps ~14,000 writers open."""
    root.mkdir(parents=True, exist_ok=True)
    for context, fact in facts:
        staging = root / "staging"
        connection.execute(
            f"COPY (SELECT {COLUMNS}, day, hour FROM facts WHERE context = '{context}' AND fact = '{fact}') "
            f"TO '{staging}' (FORMAT JSON, COMPRESSION GZIP, PARTITION_BY (day, hour))"
        )
        for path in staging.rglob("*.json.gz"):
            hour = path.parent.name.removeprefix("hour=")
            day = path.parent.parent.name.removeprefix("day=")
            name = f"bench-{STREAMS[context]}-archive-1-{day}-{hour}-00-00-{uuid.uuid4()}.gz"
            target = root / "events" / f"context={context}" / f"fact={fact}" / f"day={day}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
        shutil.rmtree(staging)


def write_parquet(connection: duckdb.DuckDBPyConnection, root: Path, facts: list[tuple[str, str]]) -> None:
    """The same facts as Firehose's record format conversion would write them (Snappy, its default), `data`
    as a JSON string (a Glue schema cannot type every event's own fields in one column); one file per
    partition and day (the conversion's buffers are at least 64 MiB)."""
    columns = COLUMNS.replace("data,", "CAST(data AS VARCHAR) AS data,")
    for context, fact in facts:
        folder = root / "events" / f"context={context}" / f"fact={fact}"
        folder.mkdir(parents=True, exist_ok=True)
        connection.execute(
            f"COPY (SELECT {columns}, day FROM facts WHERE context = '{context}' AND fact = '{fact}') "
            f"TO '{folder}' (FORMAT PARQUET, COMPRESSION SNAPPY, PARTITION_BY (day), OVERWRITE_OR_IGNORE)"
        )


def size_of(folder: Path) -> tuple[int, int]:
    files = [path for path in folder.rglob("*") if path.is_file()]
    return sum(path.stat().st_size for path in files), len(files)


def bytes_read(engine: ArchiveEngine, sql: str) -> int:
    engine.connection.execute("SET enable_profiling = 'json'")
    plan = engine.connection.execute(f"EXPLAIN ANALYZE {sql}").fetchall()[0][1]
    engine.connection.execute("SET enable_profiling = 'no_output'")
    return int(json.loads(plan)["io"]["total_bytes_read"])


def run_queries(root: Path, file_format: str, day: str) -> dict[str, object]:
    engine = ArchiveEngine(root, file_format=file_format)
    seconds = {}
    for query in named_queries().values():
        seconds[query.name] = engine.run(query.sql).seconds
    sales = named_queries()["orders_by_day_and_campaign"].sql
    whole = bytes_read(engine, sales)
    everything = bytes_read(engine, named_queries()["facts_by_context_and_type"].sql)
    engine.close()
    bounded = ArchiveEngine(root, since=day, until=day, file_format=file_format)
    started = time.perf_counter()
    bounded.run(sales)
    bounded_seconds = round(time.perf_counter() - started, 3)
    day_bytes = bytes_read(bounded, sales)
    bounded.close()
    return {
        "query_seconds": seconds,
        "day_bounded_query_seconds": bounded_seconds,
        "day_bounded_query_bytes_read": day_bytes,
        "whole_archive_query_bytes_read": whole,
        "all_facts_bytes_read": everything,
        "day_bounded_over_whole_archive": round(day_bytes / everything, 5) if everything else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--keep", type=Path, help="write the archive here and keep it")
    parser.add_argument("--parquet", action="store_true", help="also write and query the facts as Parquet")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-mining-"))
    try:
        connection = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        connection.execute("SET TimeZone = 'UTC'")
        # The facts are a view, streamed into each COPY: never held whole in memory (12 million JSON rows).
        connection.execute("SET memory_limit = '6GB'")
        connection.execute("SET preserve_insertion_order = false")
        connection.execute(f"SET temp_directory = '{root / 'spill'}'")
        started = time.perf_counter()
        connection.execute(ORDERS.format(start=START, days=args.days, orders=args.orders))
        connection.execute(FACTS)
        generated = time.perf_counter() - started
        json_root, parquet_root = root / "jsonl", root / "parquet"
        kinds = [
            (context, fact)
            for context, fact in connection.execute(
                "SELECT DISTINCT context, fact FROM facts ORDER BY context, fact"
            ).fetchall()
        ]
        started = time.perf_counter()
        write_json_lines(connection, json_root, kinds)
        json_written = time.perf_counter() - started
        started = time.perf_counter()
        if args.parquet:
            write_parquet(connection, parquet_root, kinds)
        parquet_written = time.perf_counter() - started
        facts = connection.execute("SELECT count(*) FROM facts").fetchone()
        assert facts is not None
        connection.close()
        shutil.rmtree(root / "spill", ignore_errors=True)
        json_bytes, json_files = size_of(json_root / "events")
        parquet_bytes, parquet_files = size_of(parquet_root / "events") if args.parquet else (0, 0)
        day = (date.fromisoformat(START) + timedelta(days=args.days // 2)).isoformat()
        print(
            f"{facts[0]} facts of {args.orders} orders; JSON lines {json_bytes} bytes in {json_files} objects",
            file=sys.stderr,
        )
        json_figures = run_queries(json_root, "json", day)
        parquet_figures = run_queries(parquet_root, "parquet", day) if args.parquet else {}
        result = {
            "orders": args.orders,
            "days": args.days,
            "facts": facts[0],
            "facts_per_order": round(facts[0] / args.orders, 2),
            "archive_bytes_per_order": round(json_bytes / args.orders, 1),
            "archive_bytes": json_bytes,
            "archive_objects": json_files,
            "query_seconds": json_figures["query_seconds"],
            "day_bounded_query": f"orders_by_day_and_campaign --since {day} --until {day}",
            "day_bounded_query_seconds": json_figures["day_bounded_query_seconds"],
            "day_bounded_query_bytes_read": json_figures["day_bounded_query_bytes_read"],
            "whole_archive_query_bytes_read": json_figures["whole_archive_query_bytes_read"],
            "all_facts_bytes_read": json_figures["all_facts_bytes_read"],
            "day_bounded_bytes_over_whole_archive": json_figures["day_bounded_over_whole_archive"],
            **(
                {
                    "parquet_bytes_per_order": round(parquet_bytes / args.orders, 1),
                    "parquet_objects": parquet_files,
                    "parquet_query_seconds": parquet_figures["query_seconds"],
                    "parquet_day_bounded_query_bytes_read": parquet_figures["day_bounded_query_bytes_read"],
                    "parquet_write_seconds": round(parquet_written, 1),
                }
                if args.parquet
                else {}
            ),
            # The orders' table; their facts are a view, generated inside each write below.
            "orders_table_seconds": round(generated, 1),
            "write_json_lines_seconds": round(json_written, 1),
            "duckdb": duckdb.__version__,
            "cpus": os.cpu_count(),  # DuckDB's threads: its default, one per CPU
        }
        print(json.dumps(result))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
