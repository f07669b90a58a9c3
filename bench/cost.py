"""Capacity and cost per order, measured: orders placed through the local cloud's gateway and taken through
the whole template (read side and payment saga) while moto's recorder keeps every request made to AWS.

Counted per order, generically over whatever the template holds:
- every AWS request the functions' code makes, by service and API (told apart by `app/localcloud-function`
  in their user agent, set by the local cloud's workers; its own pollers stand in for Lambda's event
  source mappings and are counted apart);
- DynamoDB write and read units by table, from the request bodies: 1 WRU per KB of item (2 in a
  transaction), 1 RRU per 4 KB read strongly consistent (half eventually consistent), where a read's size
  is bounded by the largest item / partition of its table at the end of the run (printed, so the bound can
  be checked);
- Kinesis records, PUT payload units (25 KB) and on-demand ingested KB (records rounded up to 1 KB), and
  what the stream's consumers retrieve;
- SQS requests in 64 KB chunks, plus what an SQS event source mapping makes per batch (ReceiveMessage and
  DeleteMessageBatch, billed to the account);
- Lambda invocations and GB-seconds at the template's memory sizes (durations as measured here: moto and 2
  cores make them longer than on AWS, so this is an upper bound);
- the functions' log bytes (CloudWatch Logs ingestion) and HTTP API requests;
- sales analytics' writes: transactions and counter item writes per batch (at most one per counter item),
  and the write units per order saved against one transaction per event (its marker and each of its
  counters, written twice as a transactional write: what the analytics wrote before issue 21), from the
  contributions of the order events actually published.

Fixed costs follow the template's defaults: each Kinesis stream in the capacity mode its parameters give
(shard-hours when provisioned, a stream-hour when on demand), the alarms, the dashboard, the KMS keys.

Prices are on-demand list prices (us-east-1), named below with their source. The last line printed is one
JSON object.

    .venv/bin/python bench/cost.py [--orders 40] [--clients 2]    # or: make bench
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
import math
import os
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import offline  # noqa: F401 - the layers and the repo on the path, a fake account

RECORDING = Path(tempfile.gettempdir()) / "bench-cost-recording.jsonl"
os.environ["MOTO_RECORDER_FILEPATH"] = str(RECORDING)  # read when moto is imported, below

import requests  # noqa: E402

from eventcore.write.dynamodb_store import item_size  # noqa: E402
from localcloud import LocalCloud  # noqa: E402
from localcloud.workers import FUNCTION_USER_AGENT_APP_ID  # noqa: E402
from ops.alarms import operations_path  # noqa: E402
from ops.template import TEMPLATE, StackShape, load_sam, target_of, translate  # noqa: E402
from orders.analytics import sales_tally  # noqa: E402
from tests.support.orders import order_body  # noqa: E402

FUNCTION_LOGS = Path(tempfile.gettempdir()) / "bench-cost-functions.log"
BODY = order_body(("SKU-TEA-001", 2))
FINAL_STATUSES = {"confirmed", "cancelled", "shipped"}
FINAL_TIMEOUT = 90.0

# -- on-demand list prices, US East (N. Virginia); check them before relying on the totals ----------------
PRICES_AS_OF = "2025 list prices (DynamoDB after its 2024-11-01 on-demand price cut), compiled 2026-12-01"
# https://aws.amazon.com/lambda/pricing/ (Arm: 20 % below x86's 0.0000166667)
LAMBDA_USD_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM_USD_PER_GB_SECOND = 0.0000133334
# https://aws.amazon.com/dynamodb/pricing/on-demand/
DYNAMODB_USD_PER_MILLION_WRU = 0.625
DYNAMODB_USD_PER_MILLION_RRU = 0.125
# Not checked for MRSC (docs/failover.md): the write price, as for a replicated write of a global table.
DYNAMODB_USD_PER_MILLION_REPLICATED_WRU = DYNAMODB_USD_PER_MILLION_WRU
# What a replicated stack (Replication=primary) makes global tables with multi-Region strong consistency.
REPLICATED_TABLES = {
    "OrdersEventLog",
    "PaymentsEventLog",
    "InventoryEventLog",
    "ShippingEventLog",
    "PersonalDataKeys",
}
# https://aws.amazon.com/kinesis/data-streams/pricing/ (on-demand mode; plus 0.04 USD per stream-hour)
KINESIS_ON_DEMAND_USD_PER_GB_IN = 0.08
KINESIS_ON_DEMAND_USD_PER_GB_OUT = 0.04
KINESIS_ON_DEMAND_USD_PER_STREAM_HOUR = 0.04
# The same page, provisioned mode: a shard-hour, and PUT payload units (25 KB); reading is not charged. The
# page renders its figures in the browser; these two were checked against third-party copies of it
# (docs/capacity.md, "Sources"), not against the page itself.
KINESIS_PROVISIONED_USD_PER_SHARD_HOUR = 0.015
KINESIS_PROVISIONED_USD_PER_MILLION_PUT_UNITS = 0.014
# https://aws.amazon.com/kms/pricing/ (a customer managed key, per month; each automatic rotation adds 1 USD)
KMS_USD_PER_KEY_MONTH = 1.00
# https://aws.amazon.com/sqs/pricing/ (per million requests, each 64 KB chunk a request)
SQS_STANDARD_USD_PER_MILLION = 0.40
SQS_FIFO_USD_PER_MILLION = 0.50
# https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs, first 300 million a month)
HTTP_API_USD_PER_MILLION = 1.00
# https://aws.amazon.com/cloudwatch/pricing/ (Logs standard ingestion; EMF metrics are log lines too)
CLOUDWATCH_LOGS_USD_PER_GB = 0.50
# https://aws.amazon.com/xray/pricing/ (traces recorded; the default sampling rule keeps about 5 %)
XRAY_USD_PER_MILLION_TRACES = 5.00
XRAY_SAMPLED_SHARE = 0.05
# https://aws.amazon.com/cloudwatch/pricing/ (standard-resolution alarm, per month; a dashboard is 3 USD)
# The archive (Firehose to S3, docs/mining.md). Not re-checked against the price pages in this session (no
# price page answered the search): Firehose ingestion from a Kinesis stream is billed per GB with each record
# rounded up to 5 KB; dynamic partitioning per GB processed and per 1,000 objects delivered; S3 per PUT and
# per GB-month stored.
FIREHOSE_USD_PER_GB_INGESTED = 0.029
FIREHOSE_RECORD_ROUNDING_KB = 5
FIREHOSE_PARTITIONING_USD_PER_GB = 0.020
FIREHOSE_PARTITIONING_USD_PER_1000_OBJECTS = 0.005
S3_USD_PER_1000_PUTS = 0.005
S3_STANDARD_USD_PER_GB_MONTH = 0.023
ARCHIVE_BUFFER_SECONDS = 300  # template.yaml's ArchiveBufferSeconds default: one object per active partition

CLOUDWATCH_ALARM_USD_PER_MONTH = 0.10
CLOUDWATCH_DASHBOARD_USD_PER_MONTH = 3.00

GB = 1024**3
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def start_recording(endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/recorder/reset-recording", timeout=10).raise_for_status()
    requests.post(f"{endpoint}/moto-api/recorder/start-recording", timeout=10).raise_for_status()


def stop_recording(endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/recorder/stop-recording", timeout=10).raise_for_status()


def operation(entry: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(service, API, decoded body) of one recorded request."""
    headers = {key.lower(): value for key, value in entry["headers"].items()}
    body_text = entry.get("body") or ""
    raw = base64.b64decode(body_text) if entry.get("body_encoded") else body_text.encode()
    credential = headers.get("authorization", "").split("Credential=")[-1].split(",")[0].split("/")
    service = credential[3] if len(credential) > 3 else "unknown"
    target = headers.get("x-amz-target", "")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    if target:
        return service, target.rpartition(".")[2], body
    from urllib.parse import parse_qs

    query = parse_qs(raw.decode(errors="replace")) or parse_qs(entry["url"].partition("?")[2])
    return service, (query.get("Action") or ["?"])[0], body


def place_orders(cloud: LocalCloud, orders: int, clients: int) -> list[str]:
    token = cloud.token("bench-cost")
    placed: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        session = requests.Session()
        for _ in range(count):
            response = session.post(
                f"{cloud.gateway_url}/orders",
                json=BODY,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            with lock:
                if response.status_code == 201:
                    placed.append(response.json()["order_id"])
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    counts = [orders // clients + (1 if i < orders % clients else 0) for i in range(clients)]
    threads = [threading.Thread(target=client, args=(count,)) for count in counts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} POSTs failed, first: {errors[0]}")
    return placed


def wait_for_final(cloud: LocalCloud, order_ids: list[str]) -> Counter[str]:
    dynamodb, table = cloud.client("dynamodb"), cloud.physical_id("OrdersView")
    pending, statuses = set(order_ids), Counter[str]()
    deadline = time.monotonic() + FINAL_TIMEOUT
    while pending and time.monotonic() < deadline:
        for start in range(0, len(pending), 100):
            keys = [{"order_id": {"S": order_id}} for order_id in sorted(pending)[start : start + 100]]
            answer = dynamodb.batch_get_item(RequestItems={table: {"Keys": keys}})
            for item in answer["Responses"].get(table, []):
                if item["status"]["S"] in FINAL_STATUSES:
                    pending.discard(item["order_id"]["S"])
                    statuses[item["status"]["S"]] += 1
        time.sleep(0.1)
    if pending:
        raise SystemExit(f"{len(pending)} orders did not reach a final status within {FINAL_TIMEOUT} s")
    cloud.wait_until_idle(timeout=60)
    return statuses


def table_bounds(cloud: LocalCloud, tables: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per table: the largest item and the largest partition (bytes, as DynamoDB counts them)."""
    bounds = {}
    dynamodb = cloud.client("dynamodb")
    for logical_id, name in tables.items():
        hash_key = next(
            k["AttributeName"]
            for k in dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]
            if k["KeyType"] == "HASH"
        )
        partitions: dict[str, int] = defaultdict(int)
        largest = 0
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                size = item_size(item)
                largest = max(largest, size)
                partitions[json.dumps(item[hash_key])] += size
        bounds[logical_id] = {
            "max_item_bytes": largest,
            "max_partition_bytes": max(partitions.values(), default=0),
        }
    return bounds


def dynamodb_units(
    api: str,
    body: dict[str, Any],
    names: dict[str, str],
    bounds: dict[str, dict[str, int]],
    indexes: dict[str, list[tuple[str, list[str]]]],
) -> list[tuple[str, str, float]]:
    """(table logical id, "write"|"read", units) for one DynamoDB request. A write also writes each global
    secondary index whose key attributes the item has (its projection is under 1 KB here: 1 unit), billed
    as `<table>/<index>`."""

    def kb(item: dict[str, Any] | None, table: str) -> int:
        size = item_size(item) if item else bounds.get(table, {}).get("max_item_bytes", 1)
        return max(1, math.ceil(size / 1024))

    def read_units(table: str, size: int, consistent: bool) -> float:
        return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)

    def index_writes(table: str, item: dict[str, Any] | None) -> list[tuple[str, str, float]]:
        return [
            (f"{table}/{index}", "write", 1.0)
            for index, keys in indexes.get(table, [])
            if item is None or all(key in item for key in keys)
        ]

    units: list[tuple[str, str, float]] = []
    table = names.get(body.get("TableName", ""), body.get("TableName", "?"))
    match api:
        case "PutItem":
            units.append((table, "write", kb(body["Item"], table)))
            units += index_writes(table, body["Item"])
        case "UpdateItem" | "DeleteItem":
            units.append((table, "write", kb(None, table)))
            units += index_writes(table, None)
        case "BatchWriteItem":
            for name, writes in body["RequestItems"].items():
                logical = names.get(name, name)
                for write in writes:
                    item = write.get("PutRequest", {}).get("Item")
                    units.append((logical, "write", kb(item, logical)))
                    units += index_writes(logical, item)
        case "TransactWriteItems":
            for action in body["TransactItems"]:
                ((kind, request),) = action.items()
                logical = names.get(request["TableName"], request["TableName"])
                units.append(
                    (logical, "write", 2 * kb(request.get("Item") if kind == "Put" else None, logical))
                )
        case "GetItem":
            size = bounds.get(table, {}).get("max_item_bytes", 1)
            units.append((table, "read", read_units(table, size, bool(body.get("ConsistentRead")))))
        case "Query":
            size = bounds.get(table, {}).get("max_partition_bytes", 1)
            units.append((table, "read", read_units(table, size, bool(body.get("ConsistentRead")))))
        case "BatchGetItem":
            for name, request in body["RequestItems"].items():
                logical = names.get(name, name)
                size = bounds.get(logical, {}).get("max_item_bytes", 1)
                for _ in request["Keys"]:
                    units.append(
                        (logical, "read", read_units(logical, size, bool(request.get("ConsistentRead"))))
                    )
    return units


def measure(orders: int, clients: int) -> dict[str, Any]:
    cfn = translate(load_sam(TEMPLATE))
    shape = StackShape.of(cfn)
    memory = {
        logical: int(cfn["Resources"][logical]["Properties"].get("MemorySize", 128))
        for logical in shape.functions
    }
    FUNCTION_LOGS.unlink(missing_ok=True)
    RECORDING.unlink(missing_ok=True)
    with LocalCloud(
        TEMPLATE, port=0, moto_port=0, output=io.StringIO(), function_logs=FUNCTION_LOGS
    ) as cloud:
        memory_by_name = {cloud.function_name(logical): size for logical, size in memory.items()}
        wait_for_final(cloud, place_orders(cloud, 2, 1))  # warm-up: every worker imported, nothing counted
        first_invocation = len(cloud.invocations)
        log_bytes_before = FUNCTION_LOGS.stat().st_size if FUNCTION_LOGS.exists() else 0
        start_recording(cloud.endpoint_url)
        statuses = wait_for_final(cloud, place_orders(cloud, orders, clients))
        stop_recording(cloud.endpoint_url)
        cloud.wait_until_idle(timeout=120)
        cloud.flush_delivery_streams()
        archive = archive_of(cloud)
        invocations = cloud.invocations[first_invocation:]
        log_bytes = FUNCTION_LOGS.stat().st_size - log_bytes_before
        tables = {logical: cloud.physical_id(logical) for logical in shape.tables}
        streams = {logical: cloud.physical_id(logical) for logical in shape.streams}
        queues = {logical: cloud.physical_id(logical).rsplit("/", 1)[-1] for logical in shape.queues}
        bounds = table_bounds(cloud, tables)
        function_by_name = {cloud.function_name(logical): logical for logical in shape.functions}
    return {
        "orders": orders,
        "statuses": dict(statuses),
        "invocations": invocations,
        "log_bytes": log_bytes,
        "recording": [json.loads(line) for line in RECORDING.read_text().splitlines() if line.strip()],
        "names": {**{v: k for k, v in tables.items()}, **{v: k for k, v in streams.items()}},
        "queues": queues,
        "bounds": bounds,
        "memory_by_name": memory_by_name,
        "function_by_name": function_by_name,
        "shape": shape,
        "cfn": cfn,
        "archive": archive,
        "indexes": {
            table: [
                (index["IndexName"], [key["AttributeName"] for key in index["KeySchema"]])
                for index in cfn["Resources"][table]["Properties"].get("GlobalSecondaryIndexes", [])
            ]
            for table in shape.tables
        },
    }


def resolved(value: Any, cfn: dict[str, Any], defaults: dict[str, str]) -> Any:
    """A property's value in a stack deployed with the parameters' defaults: `Ref` to a parameter, `Fn::If`
    on a condition of `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or` (what the capacity settings use)."""
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return defaults.get(argument, argument)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return resolved(when_true if holds(name, cfn, defaults) else when_false, cfn, defaults)
    return value


def holds(condition: Any, cfn: dict[str, Any], defaults: dict[str, str]) -> bool:
    if isinstance(condition, str):
        return holds(cfn.get("Conditions", {})[condition], cfn, defaults)
    ((function, argument),) = condition.items()
    match function:
        case "Fn::Equals":
            left, right = (str(resolved(a, cfn, defaults)) for a in argument)
            return left == right
        case "Fn::Not":
            return not holds(argument[0], cfn, defaults)
        case "Fn::And":
            return all(holds(c, cfn, defaults) for c in argument)
        case "Fn::Or":
            return any(holds(c, cfn, defaults) for c in argument)
        case "Condition":
            return holds(argument, cfn, defaults)
    raise ValueError(f"condition {condition!r} is not one this bench reads")


def stream_capacity(cfn: dict[str, Any], shape: StackShape) -> dict[str, tuple[str, int]]:
    """Each Kinesis stream's capacity mode and shards (0 on demand) with the template's default parameters."""
    capacity = {}
    for logical_id in shape.streams:
        properties = cfn["Resources"][logical_id]["Properties"]
        details = properties.get("StreamModeDetails", {})
        mode = str(resolved(details.get("StreamMode", "PROVISIONED"), cfn, shape.parameter_defaults))
        shards = int(resolved(properties.get("ShardCount", 1), cfn, shape.parameter_defaults) or 1)
        capacity[logical_id] = (mode, shards if mode == "PROVISIONED" else 0)
    return capacity


def archive_of(cloud: LocalCloud) -> dict[str, int]:
    """What the archive bucket holds (warm-up orders included: `orders_archived` says how many): records,
    the distinct facts, the gzipped bytes, and the fact types' partitions."""
    s3, bucket = cloud.client("s3"), cloud.physical_id("ArchiveBucket")
    records, ids, size, partitions, orders = 0, set(), 0, set(), set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            size += len(body)
            partitions.add(item["Key"].rsplit("/day=", 1)[0])
            for line in gzip.decompress(body).decode().splitlines():
                document = json.loads(line)
                records += 1
                ids.add(document["id"])
                if document["type"].split(".")[-2] == "OrderCreated":
                    orders.add(document["subject"])
    return {
        "records": records,
        "facts": len(ids),
        "bytes": size,
        "fact_partitions": len(partitions),
        "orders_archived": len(orders),
    }


def analyse(run: dict[str, Any]) -> dict[str, Any]:
    orders: int = run["orders"]
    shape: StackShape = run["shape"]
    names: dict[str, str] = run["names"]
    analytics_functions = {"SalesAnalyticsProjectorFunction"}
    analytics_tables = {"SalesAnalytics"}
    analytics_sources = {m.source for m in shape.mappings if m.function in analytics_functions}
    analytics_transactions = 0
    counter_writes: Counter[str] = Counter()  # counter item -> updates committed
    one_transaction_per_event_wru = 0.0  # what one transaction per counted event would have written
    kinesis_payload_units: Counter[str] = Counter()
    by_api: Counter[str] = Counter()
    triggers: Counter[str] = Counter()
    write_units: defaultdict[str, float] = defaultdict(float)
    read_units: defaultdict[str, float] = defaultdict(float)
    kinesis_records: Counter[str] = Counter()
    kinesis_kb: Counter[str] = Counter()
    payload_units = 0
    sqs_chunks: Counter[str] = Counter()
    for entry in run["recording"]:
        service, api, body = operation(entry)
        user_agent = {k.lower(): v for k, v in entry["headers"].items()}.get("user-agent", "")
        if f"app/{FUNCTION_USER_AGENT_APP_ID}" not in user_agent:  # pollers, stack set-up, this bench
            triggers[f"{service}.{api}"] += 1
            continue
        by_api[f"{service}.{api}"] += 1
        if service == "dynamodb":
            for table, kind, units in dynamodb_units(api, body, names, run["bounds"], run["indexes"]):
                (write_units if kind == "write" else read_units)[table] += units
            if api == "TransactWriteItems" and any(
                names.get(a[next(iter(a))]["TableName"]) in analytics_tables for a in body["TransactItems"]
            ):
                analytics_transactions += 1
                for action in body["TransactItems"]:
                    if "Update" in action:
                        key = action["Update"]["Key"]
                        counter_writes[f"{key['pk']['S']}/{key['sk']['S']}"] += 1
        elif service == "kinesis" and api in ("PutRecords", "PutRecord"):
            stream = names.get(
                body.get("StreamName", ""), body.get("StreamName") or body.get("StreamARN", "?")
            )
            for record in body.get("Records", [body]):
                data = base64.b64decode(record["Data"])
                size = len(data) + len(record["PartitionKey"].encode())
                kinesis_records[stream] += 1
                kinesis_kb[stream] += math.ceil(size / 1024)
                payload_units += math.ceil(size / (25 * 1024))
                kinesis_payload_units[stream] += math.ceil(size / (25 * 1024))
                if stream in analytics_sources:
                    tally = sales_tally("bench", data)
                    if tally is not None:  # its marker and each of its counters, transactional: 2 units each
                        one_transaction_per_event_wru += 2 * (1 + len(tally.contributions))
        elif service == "sqs":
            queue = body.get("QueueUrl", "").rsplit("/", 1)[-1]
            size = len(body.get("MessageBody", "").encode())
            sqs_chunks["fifo" if queue.endswith(".fifo") else "standard"] += max(
                1, math.ceil(size / (64 * 1024))
            )

    invocations = run["invocations"]
    function_of = run["function_by_name"]
    per_function = Counter(function_of.get(i.function, i.function) for i in invocations)
    gb_seconds = sum(
        i.duration_ms / 1000 * run["memory_by_name"].get(i.function, 128) / 1024 for i in invocations
    )
    http_requests = sum(1 for i in invocations if i.trigger.startswith("http"))
    # An SQS event source mapping receives and deletes per batch: requests billed to the account.
    sqs_functions = {m.function for m in shape.mappings if m.source_kind == "sqs"}
    esm_sqs = {
        m.function: ("fifo" if run["queues"][m.source].endswith(".fifo") else "standard")
        for m in shape.mappings
        if m.source_kind == "sqs"
    }
    for function, kind in esm_sqs.items():
        sqs_chunks[kind] += 2 * per_function[function]
    # Every stream consumer retrieves what was put on its stream (on-demand retrieval is billed per GB). A
    # provisioned stream charges PUT payload units instead, and nothing for reading.
    consumers = Counter(m.source for m in shape.mappings if m.source_kind == "kinesis")
    for delivery in shape.delivery_streams:  # the archive's Firehose reads its stream too
        source = shape.resources[delivery]["Properties"]["KinesisStreamSourceConfiguration"][
            "KinesisStreamARN"
        ]
        consumers[target_of(source) or "?"] += 1
    retrieved_kb = sum(kinesis_kb[stream] * consumers[stream] for stream in kinesis_kb)
    capacity = stream_capacity(run["cfn"], shape)
    on_demand = {stream for stream, (mode, _) in capacity.items() if mode == "ON_DEMAND"}
    analytics_batches = sum(per_function[f] for f in analytics_functions)

    per = 1 / orders
    requests_per_order = sum(by_api.values()) * per
    wru = sum(write_units.values())
    rru = sum(read_units.values())
    cost = {
        "lambda_requests": len(invocations) * per * LAMBDA_USD_PER_MILLION_REQUESTS,
        "lambda_duration": gb_seconds * per * LAMBDA_ARM_USD_PER_GB_SECOND * 1e6,
        "dynamodb_writes": wru * per * DYNAMODB_USD_PER_MILLION_WRU,
        "dynamodb_reads": rru * per * DYNAMODB_USD_PER_MILLION_RRU,
        "kinesis_in": (
            sum(kinesis_kb[s] for s in on_demand) * 1024 / GB * KINESIS_ON_DEMAND_USD_PER_GB_IN * 1e6
            + sum(n for s, n in kinesis_payload_units.items() if s not in on_demand)
            * KINESIS_PROVISIONED_USD_PER_MILLION_PUT_UNITS
        )
        * per,
        "kinesis_out": sum(kinesis_kb[s] * consumers[s] for s in on_demand)
        * per
        * 1024
        / GB
        * KINESIS_ON_DEMAND_USD_PER_GB_OUT
        * 1e6,
        "sqs": (
            sqs_chunks["fifo"] * SQS_FIFO_USD_PER_MILLION
            + sqs_chunks["standard"] * SQS_STANDARD_USD_PER_MILLION
        )
        * per,
        "http_api": http_requests * per * HTTP_API_USD_PER_MILLION,
        "cloudwatch_logs": run["log_bytes"] * per / GB * CLOUDWATCH_LOGS_USD_PER_GB * 1e6,
        "xray": len(invocations) * per * XRAY_SAMPLED_SHARE * XRAY_USD_PER_MILLION_TRACES,
    }
    # The alarms live in the nested operations stack (operations.yaml, generated by `make alarms`).
    alarms = sum(
        1
        for r in load_sam(operations_path(TEMPLATE))["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    )
    archive = run["archive"]
    archived_orders = max(1, archive["orders_archived"])
    archive_gb_per_order = archive["bytes"] / archived_orders / GB
    record_bytes = sum(kinesis_kb.values()) * 1024 / max(1, sum(kinesis_records.values()))
    firehose_kb_per_record = (
        math.ceil(record_bytes / 1024 / FIREHOSE_RECORD_ROUNDING_KB) * FIREHOSE_RECORD_ROUNDING_KB
    )
    records_per_order = archive["facts"] / archived_orders
    cost["archive_firehose"] = (
        records_per_order
        * firehose_kb_per_record
        * 1024
        / GB
        * 1e6
        * (FIREHOSE_USD_PER_GB_INGESTED + FIREHOSE_PARTITIONING_USD_PER_GB)
    )
    # Stored for good: each month's orders add their gzipped bytes to what every later month pays for.
    cost["archive_s3_storage_first_month"] = archive_gb_per_order * 1e6 * S3_STANDARD_USD_PER_GB_MONTH
    objects_per_month = archive["fact_partitions"] * 86400 / ARCHIVE_BUFFER_SECONDS * 30
    fixed_per_month = {
        "archive_objects": objects_per_month
        / 1000
        * (S3_USD_PER_1000_PUTS + FIREHOSE_PARTITIONING_USD_PER_1000_OBJECTS),
        "kinesis_streams": sum(
            (
                KINESIS_ON_DEMAND_USD_PER_STREAM_HOUR
                if mode == "ON_DEMAND"
                else shards * KINESIS_PROVISIONED_USD_PER_SHARD_HOUR
            )
            * 730
            for mode, shards in capacity.values()
        ),
        "alarms": alarms * CLOUDWATCH_ALARM_USD_PER_MONTH,
        "dashboard": CLOUDWATCH_DASHBOARD_USD_PER_MONTH,
        "kms_keys": len(by_type(run["cfn"], "AWS::KMS::Key")) * KMS_USD_PER_KEY_MONTH,
    }
    analytics_wru = sum(units for table, units in write_units.items() if table in analytics_tables)
    # Replication=primary (docs/failover.md): the replicated tables' writes are written again in the second
    # replica region (the witness keeps no readable copy). Priced at the on-demand write price: MRSC's
    # replicated-write price was not checked.
    replicated_wru = sum(
        units for table, units in write_units.items() if table.split("/")[0] in REPLICATED_TABLES
    )
    return {
        "orders": orders,
        "final_statuses": run["statuses"],
        "requests_per_order": round(requests_per_order, 2),
        "requests_by_api_per_order": {api: round(n * per, 2) for api, n in sorted(by_api.items())},
        "event_source_mapping_sqs_requests_per_order": round(
            2 * sum(per_function[f] for f in sqs_functions) * per, 2
        ),
        "dynamodb_write_units_per_order": round(wru * per, 2),
        "dynamodb_write_units_by_table": {t: round(u * per, 2) for t, u in sorted(write_units.items())},
        "dynamodb_read_units_per_order": round(rru * per, 2),
        "dynamodb_read_units_by_table": {t: round(u * per, 2) for t, u in sorted(read_units.items())},
        "table_bounds_bytes": run["bounds"],
        "kinesis_records_per_order": {s: round(n * per, 2) for s, n in sorted(kinesis_records.items())},
        "kinesis_put_payload_units_per_order": round(payload_units * per, 2),
        "kinesis_ingested_kb_per_order": round(sum(kinesis_kb.values()) * per, 2),
        "kinesis_retrieved_kb_per_order": round(retrieved_kb * per, 2),
        "sqs_requests_per_order": {k: round(v * per, 2) for k, v in sorted(sqs_chunks.items())},
        "lambda_invocations_per_order": round(len(invocations) * per, 2),
        "lambda_invocations_by_function_per_order": {
            f: round(n * per, 2) for f, n in sorted(per_function.items())
        },
        "lambda_gb_seconds_per_order": round(gb_seconds * per, 4),
        "http_api_requests_per_order": round(http_requests * per, 2),
        "log_bytes_per_order": round(run["log_bytes"] * per),
        "usd_per_million_orders_by_item": {k: round(v, 2) for k, v in cost.items()},
        "usd_per_million_orders": round(sum(cost.values()), 2),
        "usd_fixed_per_month": {k: round(v, 2) for k, v in fixed_per_month.items()},
        "usd_fixed_per_month_total": round(sum(fixed_per_month.values()), 2),
        "kinesis_streams_capacity": {
            s: f"{mode} {shards}" if shards else mode for s, (mode, shards) in capacity.items()
        },
        "analytics_batches": analytics_batches,
        "analytics_transactions": analytics_transactions,
        "analytics_transactions_per_batch": round(analytics_transactions / analytics_batches, 2)
        if analytics_batches
        else 0,
        # A transaction writes an item at most once (DynamoDB refuses two actions on one item), so no counter
        # item written more often than there were batches means at most once per batch.
        "analytics_max_counter_item_writes_per_batch": round(
            max(counter_writes.values(), default=0) / analytics_batches, 2
        )
        if analytics_batches
        else 0,
        "analytics_counter_items": len(counter_writes),
        "analytics_write_units_per_order": round(analytics_wru * per, 2),
        "analytics_write_units_per_order_one_transaction_per_event": round(
            one_transaction_per_event_wru * per, 2
        ),
        "analytics_write_units_saved_per_order": round(
            (one_transaction_per_event_wru - analytics_wru) * per, 2
        ),
        "analytics_usd_saved_per_million_orders": round(
            (one_transaction_per_event_wru - analytics_wru) * per * DYNAMODB_USD_PER_MILLION_WRU, 2
        ),
        "local_cloud_trigger_requests_per_order": round(sum(triggers.values()) * per, 1),
        "archive_records_per_order": round(archive["records"] / archived_orders, 2),
        "archive_facts_per_order": round(records_per_order, 2),
        "archive_bytes_per_order": round(archive["bytes"] / archived_orders, 1),
        "archive_firehose_billed_kb_per_order": round(records_per_order * firehose_kb_per_record, 1),
        "archive_objects_per_month_at_default_buffer": round(objects_per_month),
        "mrsc_replicated_write_units_per_order": round(replicated_wru * per, 2),
        "mrsc_usd_per_million_orders": round(
            replicated_wru * per * DYNAMODB_USD_PER_MILLION_REPLICATED_WRU, 2
        ),
        "prices": f"on-demand list prices, us-east-1, {PRICES_AS_OF}",
    }


def by_type(cfn: dict[str, Any], resource_type: str) -> list[str]:
    return [logical for logical, resource in cfn["Resources"].items() if resource["Type"] == resource_type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--clients", type=int, default=2)
    arguments = parser.parse_args()
    orders, clients = max(1, min(arguments.orders, 500)), max(1, min(arguments.clients, 8))
    print(f"cost: {orders} orders through the local cloud ({clients} clients), template {TEMPLATE.name}")
    figures = analyse(measure(orders, clients))
    print(f"final statuses: {figures['final_statuses']}")
    print(f"{'per order':<58}{'value':>12}")
    for api, count in figures["requests_by_api_per_order"].items():
        print(f"  request {api:<49}{count:>12}")
    for name in (
        "requests_per_order",
        "event_source_mapping_sqs_requests_per_order",
        "dynamodb_write_units_per_order",
        "dynamodb_read_units_per_order",
        "kinesis_put_payload_units_per_order",
        "kinesis_ingested_kb_per_order",
        "lambda_invocations_per_order",
        "lambda_gb_seconds_per_order",
        "log_bytes_per_order",
    ):
        print(f"{name:<58}{figures[name]:>12}")
    for table, units in figures["dynamodb_write_units_by_table"].items():
        print(f"  WRU {table:<53}{units:>12}")
    for function, count in figures["lambda_invocations_by_function_per_order"].items():
        print(f"  invocations {function:<45}{count:>12}")
    print(f"table bounds (bytes): {json.dumps(figures['table_bounds_bytes'])}")
    for item, usd in figures["usd_per_million_orders_by_item"].items():
        print(f"  USD per million orders, {item:<33}{usd:>12}")
    print(f"{'usd_per_million_orders':<58}{figures['usd_per_million_orders']:>12}")
    print(f"fixed per month (USD): {figures['usd_fixed_per_month']}; prices: {figures['prices']}")
    print(f"Kinesis streams as the template's defaults deploy them: {figures['kinesis_streams_capacity']}")
    print(
        f"sales analytics: {figures['analytics_batches']} batches, {figures['analytics_transactions']} "
        f"transactions, at most {figures['analytics_max_counter_item_writes_per_batch']} write per counter "
        f"item per batch; {figures['analytics_write_units_per_order']} write units per order "
        f"({figures['analytics_write_units_per_order_one_transaction_per_event']} with one transaction per "
        f"event: {figures['analytics_write_units_saved_per_order']} saved)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
