"""Every stream and queue consumer of the template, its real handler imported as Lambda would: a batch where
every record fails still answers `batchItemFailures` naming each record (an exception would make Lambda
retry the whole batch, or back off the whole queue), and an empty or foreign-shaped batch is answered with
no failures and reported (logged, and counted as UnprocessableBatches), never with an exception.

The functions run offline: every AWS endpoint is a closed port, so whatever a record needs from AWS fails,
which is how every record of a sample batch comes to fail."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from ops.openapi import offline_environment, offline_handler
from ops.template import load_sam
from tests.support.lambdas import LambdaContext, sample_event

# One real record per event source type, from the sample events every consumer's own tests use.
BATCH_TYPES = ("DynamoDB", "Kinesis", "SQS")
SAMPLES = {
    "DynamoDB": "ddb_stream_order_created.json",
    "Kinesis": "kinesis_order_created.json",
    "SQS": "sqs_fifo_confirm_order.json",
}
IDENTIFIERS = {"DynamoDB": ("dynamodb", "SequenceNumber"), "Kinesis": ("kinesis", "sequenceNumber")}
# What no event source mapping of these consumers delivers.
SNS_NOTIFICATION = {
    "Records": [
        {
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "Sns": {"MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "Message": "{}"},
        }
    ]
}
NOT_A_BATCH = [{}, {"Records": []}, {"Records": "x"}, {"Records": [1]}, {"detail-type": "Scheduled Event"}]


@dataclass(frozen=True)
class Consumer:
    logical_id: str
    code_uri: str
    source: str  # DynamoDB, Kinesis or SQS
    sources: tuple[str, ...]  # every source of the function
    environment: dict[str, str]


def consumers() -> list[Consumer]:
    sam = load_sam()
    found: list[Consumer] = []
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        sources = tuple(sorted({e["Type"] for e in properties.get("Events", {}).values()} & set(BATCH_TYPES)))
        environment = offline_environment(logical_id, sam)
        environment["AWS_MAX_ATTEMPTS"] = "1"  # a refused connection fails the record at once
        found.extend(
            Consumer(logical_id, properties["CodeUri"], source, sources, environment) for source in sources
        )
    return found


def batch_of(source: str, size: int) -> tuple[dict[str, Any], list[str]]:
    """A batch of `size` records of the source, each the sample's record under an identifier of its own."""
    event = sample_event(SAMPLES[source])
    records, identifiers = [], []
    for position in range(size):
        record = copy.deepcopy(event["Records"][0])
        if source == "SQS":
            record["messageId"] = str(uuid.uuid4())
            identifier = record["messageId"]
        else:
            section, name = IDENTIFIERS[source]
            record[section][name] = identifier = f"{record[section][name][:-3]}{position:03d}"
        records.append(record)
        identifiers.append(identifier)
    return {**event, "Records": records}, identifiers


def foreign_batches(consumer: Consumer) -> list[dict[str, Any]]:
    """Batches of a kind the consumer is not fed: SNS to any, and another source's records to a consumer of
    one source only (the fulfillment manager is fed both Kinesis and SQS)."""
    others = [source for source in BATCH_TYPES if source not in consumer.sources]
    return [SNS_NOTIFICATION, *(sample_event(SAMPLES[source]) for source in others)]


CONSUMERS = consumers()


def test_every_consumer_in_functions_is_covered():
    assert {consumer.code_uri.removeprefix("functions/") for consumer in CONSUMERS} == {
        "event_publisher",
        "fulfillment_process_manager",
        "inventory_buckets_consumer",
        "inventory_commands_consumer",
        "order_commands_consumer",
        "order_projector",
        "payment_commands_consumer",
        "sales_analytics_projector",
        "shipment_projector",
        "shipping_commands_consumer",
    }


@pytest.mark.parametrize(
    "consumer", CONSUMERS, ids=[f"{consumer.logical_id}-{consumer.source}" for consumer in CONSUMERS]
)
class TestBatchConsumers:
    def test_a_batch_where_every_record_fails_names_every_record(self, consumer):
        event, identifiers = batch_of(consumer.source, 3)
        with offline_handler(consumer.logical_id, consumer.code_uri, consumer.environment) as module:
            response = module.lambda_handler(event, LambdaContext())
        assert [item["itemIdentifier"] for item in response["batchItemFailures"]] == identifiers

    @pytest.mark.parametrize("event", NOT_A_BATCH, ids=[json.dumps(event) for event in NOT_A_BATCH])
    def test_an_empty_or_shapeless_batch_is_answered_and_reported(self, consumer, event, capsys, caplog):
        with offline_handler(consumer.logical_id, consumer.code_uri, consumer.environment) as module:
            response = module.lambda_handler(event, LambdaContext())
        assert response == {"batchItemFailures": []}
        assert "not a batch this consumer can process: nothing done" in caplog.messages
        assert '"UnprocessableBatches":[1.0]' in capsys.readouterr().out  # the metric, flushed by log_metrics

    def test_a_foreign_batch_is_answered_and_reported(self, consumer, capsys, caplog):
        with offline_handler(consumer.logical_id, consumer.code_uri, consumer.environment) as module:
            for event in foreign_batches(consumer):
                assert module.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
                assert '"UnprocessableBatches":[1.0]' in capsys.readouterr().out
        assert caplog.messages.count("not a batch this consumer can process: nothing done") == len(
            foreign_batches(consumer)
        )
