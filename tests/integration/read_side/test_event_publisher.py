"""The event publisher's real handler on moto: the orders log's stream records in, CloudEvents on the
order-events Kinesis stream out, in order per order, and enough for a consumer to rebuild each order."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema

from orders import order_events
from orders.order import evolve
from orders.views import order_document
from tests.integration.read_side.conftest import BASKET
from tests.support.lambdas import http_event, sample_event
from tests.support.read_side import function_environment

SCHEMA = json.loads((Path(__file__).parents[2] / "support" / "cloudevents.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def documents_by_shard(read_side) -> dict[str, list[dict[str, Any]]]:
    return {
        shard: [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in records]
        for shard, records in read_side.published().items()
    }


def rebuild_from_cloudevents(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A consumer's view of each order from the published events alone: deduplicated by id, applied in
    `sequence` order (the same shard keeps them in that order already), through the domain's own evolve."""
    seen: set[str] = set()
    orders: dict[str, tuple[Any, int]] = {}
    for document in documents:
        if document["id"] in seen:
            continue
        seen.add(document["id"])
        event_type, schema = document["type"].split(".")[-2], int(document["type"].rsplit(".v", 1)[1])
        event = order_events.decode_data(event_type, schema, document["data"])
        state, _ = orders.get(document["subject"], (None, 0))
        orders[document["subject"]] = (evolve(state, event), int(document["sequence"]))
    return {order_id: order_document(state, version) for order_id, (state, version) in orders.items()}


class TestEventPublisher:
    def test_every_event_is_published_as_a_valid_cloudevent_partitioned_by_order(self, read_side):
        orders = [read_side.place() for _ in range(3)]
        read_side.cancel(orders[0]["order_id"])
        response = read_side.publish()
        assert response == {"batchItemFailures": []}
        shards = documents_by_shard(read_side)
        documents = [d for docs in shards.values() for d in docs]
        assert len(documents) == 4
        environment = function_environment("OrderPublisherFunction")
        for document in documents:
            errors = [e.message for e in VALIDATOR.iter_errors(document)]
            assert errors == []
            assert document["source"] == environment["CLOUDEVENTS_SOURCE"]
            assert document["type"].startswith(environment["CLOUDEVENTS_TYPE_PREFIX"] + ".")
            assert document["partitionkey"] == document["subject"]
        # One order's events share a shard, in version order.
        for docs in shards.values():
            by_order = defaultdict(list)
            for document in docs:
                by_order[document["subject"]].append(document["sequence"])
            for sequences in by_order.values():
                assert sequences == sorted(sequences)
        cancelled = [d for d in documents if d["subject"] == orders[0]["order_id"]]
        assert [d["type"] for d in cancelled] == [
            "com.example.orders.OrderCreated.v4",
            "com.example.orders.OrderCancelled.v1",
        ]

    def test_a_consumer_rebuilds_each_order_from_the_cloudevents_alone(self, read_side):
        # GIVEN orders in various states, published (one batch delivered twice, as Lambda may)
        orders = [read_side.place() for _ in range(3)]
        cancelled = read_side.cancel(orders[1]["order_id"])
        records = read_side.log_records()
        read_side.publish(records)
        read_side.publish(records[1:])
        # WHEN a consumer folds the CloudEvents, deduplicating by id
        documents = [d for docs in documents_by_shard(read_side).values() for d in docs]
        rebuilt = rebuild_from_cloudevents(documents)
        # THEN each order is exactly what the command API answered
        assert read_side.owner_view(rebuilt[orders[0]["order_id"]]) == orders[0]
        assert read_side.owner_view(rebuilt[orders[1]["order_id"]]) == cancelled
        assert rebuilt[orders[1]["order_id"]]["status"] == "cancelled"
        assert read_side.owner_view(rebuilt[orders[2]["order_id"]]) == orders[2]

    def test_the_correlation_id_follows_the_order_from_its_request(self, read_side):
        request = http_event("POST", "/orders", body=BASKET)
        assert read_side.api.lambda_handler(request, read_side.context)["statusCode"] == 201
        read_side.publish()
        (document,) = [d for docs in documents_by_shard(read_side).values() for d in docs]
        assert document["correlationid"] == request["requestContext"]["requestId"]

    def test_the_lifecycle_sample_publishes_four_events(self, read_side):
        response = read_side.publisher.lambda_handler(
            sample_event("ddb_stream_order_lifecycle.json"), read_side.context
        )
        assert response == {"batchItemFailures": []}
        assert sum(len(docs) for docs in documents_by_shard(read_side).values()) == 4

    def test_the_poison_sample_reports_the_poison_record_and_its_orders_later_record(self, read_side):
        event = sample_event("ddb_stream_poison_record.json")
        response = read_side.publisher.lambda_handler(event, read_side.context)
        numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        assert response == {
            "batchItemFailures": [{"itemIdentifier": numbers[1]}, {"itemIdentifier": numbers[2]}]
        }
        assert sum(len(docs) for docs in documents_by_shard(read_side).values()) == 2
