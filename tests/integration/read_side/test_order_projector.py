"""The order projector's real handler on moto: stream records read back from the orders log's DynamoDB
stream (orders placed and cancelled through the command API), the OrdersView table from the template."""

from __future__ import annotations

import copy

import boto3

from tests.support.lambdas import sample_event
from tests.support.read_side import ddb_event


class Counting:
    """DynamoDB requests by operation, through botocore's event hooks."""

    def __init__(self, client) -> None:
        self.calls: list[str] = []
        client.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: self.calls.append(model.name)
        )

    def writes(self) -> int:
        return sum(
            1
            for name in self.calls
            if name in ("PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems")
        )


class TestOrderProjector:
    def test_the_view_equals_a_replay_of_the_log(self, read_side):
        # GIVEN orders placed by two customers, one of them cancelled
        alices = [read_side.place("customer-alice") for _ in range(3)]
        bobs = read_side.place("customer-bob")
        read_side.cancel(alices[1]["order_id"])
        # WHEN the log's stream is projected
        read_side.project()
        # THEN each row is the order's document, equal to a replay of its log
        rows = read_side.view_rows()
        assert set(rows) == {o["order_id"] for o in [*alices, bobs]}
        for order_id, row in rows.items():
            assert row == read_side.replayed(order_id)
        assert rows[alices[1]["order_id"]]["status"] == "cancelled"
        assert rows[alices[1]["order_id"]]["version"] == 2

    def test_the_view_row_is_the_document_the_command_api_answered(self, read_side):
        cancelled = read_side.cancel(read_side.place()["order_id"])
        read_side.project()
        assert read_side.owner_view(read_side.view_rows()[cancelled["order_id"]]) == cancelled

    def test_a_batch_makes_one_conditional_write_per_order(self, read_side, dynamodb):
        orders = [read_side.place() for _ in range(4)]
        for order in orders:
            read_side.cancel(order["order_id"])
        client = read_side.projector.orders.dynamodb
        counting = Counting(client)
        read_side.project(batch_size=100)
        assert counting.writes() == 4
        assert counting.calls.count("BatchGetItem") == 1

    def test_redelivery_and_a_smaller_batch_size_change_nothing(self, read_side):
        orders = [read_side.place() for _ in range(3)]
        read_side.cancel(orders[0]["order_id"])
        records = read_side.log_records()
        read_side.project(records, batch_size=2)
        before = read_side.view_rows()
        read_side.project(records[1:] + records, batch_size=3)  # everything again, out of step
        assert read_side.view_rows() == before

    def test_a_skipped_record_is_filled_in_from_the_log(self, read_side):
        order = read_side.place()
        read_side.cancel(order["order_id"])
        _created, cancelled = read_side.log_records()
        # WHEN only the cancellation arrives (the creation record was lost to a DLQ, say)
        response = read_side.projector.lambda_handler(ddb_event([cancelled]), read_side.context)
        # THEN the creation was read from the log and the row is complete
        assert response == {"batchItemFailures": []}
        assert read_side.view_rows()[order["order_id"]] == read_side.replayed(order["order_id"])

    def test_a_poison_record_is_reported_with_its_orders_later_records_and_blocks_nobody_else(
        self, read_side
    ):
        # GIVEN three orders, the second one's creation record damaged on the stream
        first, second, third = (read_side.place() for _ in range(3))
        read_side.cancel(second["order_id"])
        read_side.cancel(third["order_id"])
        records = read_side.log_records()
        poison = next(
            r for r in records if r["dynamodb"]["Keys"]["stream"]["S"] == f"Order-{second['order_id']}"
        )
        poison["dynamodb"]["NewImage"]["events"] = {"S": "not a list of events"}
        later = [r for r in records if r["dynamodb"]["Keys"]["stream"]["S"] == f"Order-{second['order_id']}"][
            1:
        ]
        # WHEN the batch is handled
        response = read_side.projector.lambda_handler(ddb_event(records), read_side.context)
        # THEN exactly the poison record and the same order's later record are reported ...
        reported = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
        assert reported == [r["dynamodb"]["SequenceNumber"] for r in [poison, *later]]
        # ... and the other orders' views are correct
        rows = read_side.view_rows()
        assert second["order_id"] not in rows
        assert rows[first["order_id"]] == read_side.replayed(first["order_id"])
        assert rows[third["order_id"]] == read_side.replayed(third["order_id"])

    def test_a_record_failing_every_time_is_reported_every_time(self, read_side):
        # Lambda's retries, bisection and the DLQ are the event source mapping's job (exercised end to end by
        # the local cloud); the handler's part is to report the same record, every time, and nothing else.
        order, other = read_side.place(), read_side.place()
        records = read_side.log_records()
        records[0]["dynamodb"]["NewImage"] = {"stream": records[0]["dynamodb"]["Keys"]["stream"]}
        for _ in range(3):
            response = read_side.projector.lambda_handler(ddb_event(records), read_side.context)
            assert response["batchItemFailures"] == [
                {"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}
            ]
        assert set(read_side.view_rows()) == {other["order_id"]}
        assert order["order_id"] != other["order_id"]


class TestSampleEvents:
    def test_the_created_sample_projects_one_row(self, read_side):
        response = read_side.projector.lambda_handler(
            sample_event("ddb_stream_order_created.json"), read_side.context
        )
        assert response == {"batchItemFailures": []}
        (row,) = read_side.view_rows().values()
        assert (row["status"], row["version"]) == ("pending_payment", 1)

    def test_the_lifecycle_sample_projects_both_orders_to_their_last_version(self, read_side):
        read_side.projector.lambda_handler(sample_event("ddb_stream_order_lifecycle.json"), read_side.context)
        rows = read_side.view_rows()
        assert sorted((row["status"], row["version"]) for row in rows.values()) == [
            ("pending_payment", 1),
            ("shipped", 3),
        ]

    def test_the_poison_sample_reports_the_poison_record_and_its_orders_later_record(self, read_side):
        event = sample_event("ddb_stream_poison_record.json")
        response = read_side.projector.lambda_handler(copy.deepcopy(event), read_side.context)
        numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        assert response == {
            "batchItemFailures": [{"itemIdentifier": numbers[1]}, {"itemIdentifier": numbers[2]}]
        }
        (row,) = read_side.view_rows().values()
        assert row["version"] == 2


def test_moto_stream_records_have_lambdas_shape(read_side):
    read_side.place()
    (record,) = read_side.log_records()
    assert record["eventName"] == "INSERT"
    assert set(record["dynamodb"]) >= {"Keys", "NewImage", "SequenceNumber", "StreamViewType"}
    assert (
        boto3.client("dynamodb").describe_table(TableName=read_side.log_table)["Table"][
            "StreamSpecification"
        ]["StreamViewType"]
        == "NEW_IMAGE"
    )
