"""The sample events in events/ (exact AWS shapes) drive the saga's functions as `sam local invoke` or
`localcloud invoke` would."""

from __future__ import annotations

import json

from payments import payment_id_for
from tests.support.lambdas import sample_event

ORDER = "0f8e4c1a-3b2d-5e6f-9a7b-1c2d3e4f5a6b"


def failures(response: dict) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_an_order_created_sample_gets_its_payment_authorised(saga, provider, lambda_context):
    response = saga.payments_module.lambda_handler(sample_event("kinesis_order_created.json"), lambda_context)
    assert failures(response) == []
    assert saga.payment_events(ORDER) == ["PaymentRequested", "PaymentAuthorized"]
    assert provider.ledger[payment_id_for(ORDER)].authorizations == 1
    # the cancellation sample voids it, the compensation
    response = saga.payments_module.lambda_handler(
        sample_event("kinesis_order_cancelled.json"), lambda_context
    )
    assert failures(response) == []
    assert saga.payment_events(ORDER)[-1] == "PaymentVoided"


def test_the_unreadable_sample_reports_both_records(saga, lambda_context):
    event = sample_event("kinesis_order_events_unreadable.json")
    response = saga.payments_module.lambda_handler(event, lambda_context)
    assert failures(response) == [r["kinesis"]["sequenceNumber"] for r in event["Records"]]


def test_payment_outcome_samples_queue_the_matching_order_command(saga, lambda_context):
    for name, command_type in (
        ("kinesis_payment_authorized.json", "ConfirmOrder"),
        ("kinesis_payment_declined.json", "CancelOrder"),
    ):
        response = saga.fulfillment_module.lambda_handler(sample_event(name), lambda_context)
        assert failures(response) == []
        (message,) = saga.commands.receive()
        body = json.loads(message["Body"])
        assert body["command_type"] == command_type
        assert message["Attributes"]["MessageGroupId"] == ORDER
        saga.sqs.delete_message(QueueUrl=saga.queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_queued_command_samples(saga, lambda_context):
    handler = saga.command_module.lambda_handler
    # no such order here: "not found" is not one of the refusals known to be final and safe, so the command
    # fails, reported as a batch item failure even alone in its batch (never a function error, which would
    # make Lambda back off the whole queue): SQS retries it, then parks it for a person
    for name in ("sqs_fifo_confirm_order.json", "sqs_fifo_cancel_order.json"):
        event = sample_event(name)
        failed = [{"itemIdentifier": record["messageId"]} for record in event["Records"]]
        assert handler(event, lambda_context) == {"batchItemFailures": failed}
    # an unknown command fails the same way
    unknown = sample_event("sqs_fifo_unknown_command.json")
    failed = [{"itemIdentifier": record["messageId"]} for record in unknown["Records"]]
    assert handler(unknown, lambda_context) == {"batchItemFailures": failed}
