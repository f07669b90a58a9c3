"""The sample events in events/ (exact AWS shapes) drive the saga's functions as `sam local invoke` or
`localcloud invoke` would."""

from __future__ import annotations

import json

from payments import payment_id_for
from tests.integration.saga.conftest import ADDRESS
from tests.support.lambdas import sample_event

ORDER = "0f8e4c1a-3b2d-5e6f-9a7b-1c2d3e4f5a6b"


def failures(response: dict) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def queued(saga, queue: str) -> list[dict]:
    url = saga.queues[queue][0]
    messages = saga.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    )
    for message in messages:
        saga.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def test_the_order_created_sample_starts_the_fulfillment(saga, lambda_context):
    response = saga.fulfillment_module.lambda_handler(
        sample_event("kinesis_order_created.json"), lambda_context
    )
    assert failures(response) == []
    assert saga.process_events(ORDER) == ["FulfillmentStarted"]
    assert [m["command_type"] for m in queued(saga, "inventory")] == ["ReserveStock", "ReserveStock"]
    assert [m["command_type"] for m in queued(saga, "payments")] == ["RequestPayment"]
    assert [m["command_type"] for m in queued(saga, "shipping")] == ["PlanShipment"]


def test_answer_samples_after_the_start_are_recorded_and_a_refusal_cancels(saga, lambda_context):
    handler = saga.fulfillment_module.lambda_handler
    handler(sample_event("kinesis_order_created.json"), lambda_context)
    for name in (
        "kinesis_payment_authorized.json",
        "kinesis_stock_reserved.json",
        "kinesis_stock_reservation_refused.json",
    ):
        assert failures(handler(sample_event(name), lambda_context)) == []
    assert saga.process_events(ORDER)[-2:] == ["StockAnswered", "FulfillmentCancelled"]
    assert [m["payload"].get("reason") for m in queued(saga, "orders")] == ["out_of_stock"]


def test_an_answer_for_an_order_not_started_is_failed_to_be_retried(saga, lambda_context):
    event = sample_event("kinesis_payment_authorized.json")
    assert failures(saga.fulfillment_module.lambda_handler(event, lambda_context)) == [
        r["kinesis"]["sequenceNumber"] for r in event["Records"]
    ]


def test_the_unreadable_sample_reports_both_records(saga, lambda_context):
    event = sample_event("kinesis_order_events_unreadable.json")
    response = saga.fulfillment_module.lambda_handler(event, lambda_context)
    assert failures(response) == [r["kinesis"]["sequenceNumber"] for r in event["Records"]]


def test_the_payment_command_samples_authorise_then_void(saga, provider, lambda_context):
    handler = saga.payments_module.lambda_handler
    assert failures(handler(sample_event("sqs_fifo_request_payment.json"), lambda_context)) == []
    assert provider.ledger[payment_id_for(ORDER)].authorizations == 1
    assert failures(handler(sample_event("sqs_fifo_void_payment.json"), lambda_context)) == []
    assert saga.payment_events(ORDER) == ["PaymentRequested", "PaymentAuthorized", "PaymentVoided"]


def test_the_money_command_samples_authorise_capture_then_refund_once(saga, provider, lambda_context):
    handler = saga.payments_module.lambda_handler
    for name in (
        "sqs_fifo_request_payment.json",
        "sqs_fifo_capture_payment.json",
        "sqs_fifo_refund_payment.json",
    ):
        assert failures(handler(sample_event(name), lambda_context)) == []
    assert failures(handler(sample_event("sqs_fifo_refund_payment.json"), lambda_context)) == []  # again
    entry = provider.ledger[payment_id_for(ORDER)]
    assert (entry.captured, entry.refunded, len(entry.refunds)) == (4795, 1250, 1)
    assert saga.payment_events(ORDER)[-3:] == ["PaymentCaptured", "PaymentRefundRequested", "PaymentRefunded"]


def test_the_return_and_card_samples_are_answered_in_the_error_shape(saga, lambda_context):
    api = saga.api.lambda_handler
    # a card number where the payment method's token belongs: 400, naming the field, never echoing it
    refused = api(sample_event("api_place_order_card_number.json"), lambda_context)
    assert refused["statusCode"] == 400
    assert json.loads(refused["body"])["errors"][0]["field"] == "payment_method"
    assert "4242" not in refused["body"]
    # the return samples name an order this saga never saw: both read as not found
    for name in ("api_request_return.json", "api_receive_return.json"):
        assert api(sample_event(name), lambda_context)["statusCode"] == 404, name


def test_the_stock_command_samples_are_routed_to_their_bucket_then_reserve_and_release(saga, lambda_context):
    router = saga.inventory_module.lambda_handler
    assert failures(router(sample_event("sqs_fifo_reserve_stock.json"), lambda_context)) == []
    assert saga.bucket_commands.deliver() == 1
    (forwarded,) = saga.bucket_commands.delivered
    assert forwarded["Attributes"]["MessageGroupId"] == "SKU-TEA-001"  # one bucket: the SKU's own group
    assert saga.stock("SKU-TEA-001").reservations == {ORDER: 2}
    # the bucket consumer's own sample: the same command again, a duplicate
    buckets = saga.buckets_module.lambda_handler
    assert failures(buckets(sample_event("sqs_fifo_bucket_reserve_stock.json"), lambda_context)) == []
    assert failures(router(sample_event("sqs_fifo_release_stock.json"), lambda_context)) == []
    assert saga.bucket_commands.deliver() == 1
    assert [t for t, _ in saga.stock_events("SKU-TEA-001")] == [
        "StockOpened",
        "StockReserved",
        "StockReleased",
    ]


def test_the_deadline_sample_cancels_an_order_still_waiting(saga, lambda_context):
    handler = saga.fulfillment_module.lambda_handler
    handler(sample_event("kinesis_order_created.json"), lambda_context)
    queued(saga, "inventory"), queued(saga, "payments"), queued(saga, "deadlines")
    assert failures(handler(sample_event("sqs_fulfillment_deadline.json"), lambda_context)) == []
    assert saga.process_events(ORDER)[-1] == "FulfillmentCancelled"
    assert [m["payload"]["reason"] for m in queued(saga, "orders")] == ["stock_timeout"]


def test_queued_order_command_samples(saga, lambda_context):
    handler = saga.command_module.lambda_handler
    # no such order here: "not found" is not one of the refusals known to be final and safe, so the command
    # fails, reported as a batch item failure even alone in its batch (never a function error, which would
    # make Lambda back off the whole queue): SQS retries it, then parks it for a person
    for name in (
        "sqs_fifo_confirm_order.json",
        "sqs_fifo_cancel_order.json",
        "sqs_fifo_unknown_command.json",
    ):
        event = sample_event(name)
        assert failures(handler(event, lambda_context)) == [
            record["messageId"] for record in event["Records"]
        ]


def with_sealed_address(saga, event: dict) -> dict:
    """The sample's PlanShipment with the order's address sealed under this test's vault, as the process
    manager sends it: a sample file cannot hold ciphertext for a key that exists only where it runs."""
    plan = event["Records"][0]
    body = json.loads(plan["body"])
    sealed = saga.api.orders.vault.key_for(body["payload"]["customer_id"]).seal(
        {"shipping_address": ADDRESS, "email": None}
    )
    body["payload"]["personal"] = sealed.model_dump(mode="json")
    plan["body"] = json.dumps(body)
    return event


def test_the_shipping_samples_without_an_address_cannot_be_dispatched(saga, lambda_context):
    event = sample_event("sqs_fifo_plan_and_ready_shipment.json")
    assert failures(saga.shipping_module.lambda_handler(event, lambda_context)) == []
    response = saga.shipping_api.lambda_handler(sample_event("api_dispatch_shipment.json"), lambda_context)
    assert response["statusCode"] == 409, response
    assert "without a shipping address" in json.loads(response["body"])["message"]
    assert saga.shipment(ORDER).status.value == "ready_to_ship"


def test_the_shipping_samples_ready_then_dispatch_a_shipment(saga, lambda_context):
    event = with_sealed_address(saga, sample_event("sqs_fifo_plan_and_ready_shipment.json"))
    assert failures(saga.shipping_module.lambda_handler(event, lambda_context)) == []
    assert saga.shipment(ORDER).status.value == "ready_to_ship"
    response = saga.shipping_api.lambda_handler(sample_event("api_dispatch_shipment.json"), lambda_context)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["tracking_number"] == "3SABCD0123456789"
    saga.shipment_projector_pump()
    listed = saga.shipping_api.lambda_handler(sample_event("api_list_shipments_ready.json"), lambda_context)
    assert (listed["statusCode"], json.loads(listed["body"])["shipments"]) == (200, [])  # it left the queue


def test_the_shipment_samples_wait_for_a_process_that_has_not_started(saga, lambda_context):
    event = sample_event("kinesis_shipment_dispatched_and_delivered.json")
    response = saga.fulfillment_module.lambda_handler(event, lambda_context)
    assert failures(response) == [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
