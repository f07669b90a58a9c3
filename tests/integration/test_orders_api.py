"""The orders command API through its real handler: API Gateway v2 events in, moto DynamoDB and SSM behind."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from eventcore import DynamoDBEventStore
from eventcore.lambdas.http import etag_of
from ops.openapi import DOCUMENT
from tests.support.aws import forget_parameter_values
from tests.support.lambdas import http_event, load_function, sample_event
from tests.support.orders import ADDRESS

BASKET: dict[str, Any] = {
    "lines": [{"sku": "SKU-TEA-001", "quantity": 2}, {"sku": "SKU-MUG-001", "quantity": 1}],
    "shipping_address": ADDRESS,
}


@pytest.fixture
def api(orders_log, pricing_parameters, personal_data_keys, monkeypatch, lambda_context):
    monkeypatch.setenv("EVENT_LOG_TABLE", orders_log)
    module = load_function("orders_api")

    def call(event: dict) -> tuple[int, dict, dict]:
        response = module.lambda_handler(event, lambda_context)
        body = json.loads(response["body"]) if response.get("body") else {}
        return response["statusCode"], body, response.get("headers", {})

    return call


@pytest.fixture
def log(orders_log, dynamodb):
    store = DynamoDBEventStore(orders_log, dynamodb)
    return lambda order_id: list(store.read(f"Order-{order_id}"))


def place(api, body=None, customer="customer-alice", key=None):
    headers = {"idempotency-key": key} if key else {}
    return api(http_event("POST", "/orders", body=body or BASKET, customer=customer, headers=headers))


def cancel(api, order_id, customer="customer-alice", key=None):
    headers = {"idempotency-key": key} if key else {}
    event = http_event("POST", f"/orders/{order_id}/cancel", customer=customer, headers=headers)
    event["pathParameters"] = {"order_id": order_id}
    return api(event)


class TestPlaceOrder:
    def test_places_a_priced_order(self, api, log):
        # WHEN a customer places an order with a campaign code
        status, order, headers = place(api, {**BASKET, "campaign_code": "welcome10"})
        # THEN it is priced from the catalog, discounted, shipped for a fee, and recorded once
        assert status == 201
        assert headers["Location"] == f"/orders/{order['order_id']}"
        assert headers["ETag"] == etag_of(order)
        assert order["status"] == "pending_payment"
        assert order["customer_id"] == "customer-alice"
        assert [(line["sku"], line["unit_price"], line["line_total"]) for line in order["lines"]] == [
            ("SKU-TEA-001", 1250, 2500),
            ("SKU-MUG-001", 1800, 1800),
        ]
        assert (order["subtotal"], order["discount"], order["shipping"]) == (4300, 430, 495)
        assert order["total"] == 4300 - 430 + 495
        assert order["campaign_code"] == "WELCOME10"
        assert order["version"] == 1
        (commit,) = log(order["order_id"])
        assert [e.event_type for e in commit.events] == ["OrderCreated"]

    def test_the_sample_event_places_an_order(self, api):
        status, order, _ = api(sample_event("api_place_order_valid.json"))
        assert status == 201
        assert order["total"] == 4300 - 430 + 495

    def test_a_retry_with_the_same_idempotency_key_returns_the_same_order_and_writes_nothing(self, api, log):
        key = f"checkout-{uuid.uuid4()}"
        _, first, _ = place(api, key=key)
        status, again, headers = place(api, key=key)
        assert status == 201
        assert again == first
        assert headers["Idempotent-Replayed"] == "true"
        assert len(log(first["order_id"])) == 1

    def test_a_retry_reaching_a_cold_container_is_recognised_too(self, api, log, orders_log, lambda_context):
        key = f"checkout-{uuid.uuid4()}"
        _, first, _ = place(api, key=key)
        cold = load_function("orders_api")
        response = cold.lambda_handler(
            http_event("POST", "/orders", body=BASKET, headers={"idempotency-key": key}), lambda_context
        )
        assert json.loads(response["body"])["order_id"] == first["order_id"]
        assert len(log(first["order_id"])) == 1

    def test_the_same_key_with_another_body_is_refused(self, api, log):
        key = f"checkout-{uuid.uuid4()}"
        _, first, _ = place(api, key=key)
        status, body, _ = place(api, {**BASKET, "shipping_address": {**ADDRESS, "line1": "Kade 2"}}, key=key)
        assert status == 422
        assert body["errors"] == [
            {
                "field": "Idempotency-Key",
                "problem": "reused with a different body; use a new key for a new request",
            }
        ]
        assert len(log(first["order_id"])) == 1

    def test_a_retry_after_the_campaign_ended_still_returns_the_order(self, api, log, pricing_parameters):
        # GIVEN an order placed with a campaign code
        key = f"checkout-{uuid.uuid4()}"
        _, first, _ = place(api, {**BASKET, "campaign_code": "WELCOME10"}, key=key)
        # WHEN the campaign is withdrawn, and the client retries (its first answer was lost)
        boto3.client("ssm").put_parameter(
            Name=pricing_parameters["CampaignsParameter"],
            Value='{"campaigns": []}',
            Type="String",
            Overwrite=True,
        )
        forget_parameter_values()
        status, again, _ = place(api, {**BASKET, "campaign_code": "WELCOME10"}, key=key)
        # THEN it gets its order, as placed, and nothing more is written
        assert status == 201
        assert again == first
        assert len(log(first["order_id"])) == 1
        # while a new order with that code is refused
        assert place(api, {**BASKET, "campaign_code": "WELCOME10"}, key=f"new-{uuid.uuid4()}")[0] == 422

    def test_the_same_key_from_two_customers_names_two_orders(self, api):
        _, alices, _ = place(api, key="same-key", customer="customer-alice")
        _, bobs, _ = place(api, key="same-key", customer="customer-bob")
        assert alices["order_id"] != bobs["order_id"]

    def test_without_a_key_every_request_is_a_new_order(self, api):
        assert place(api)[1]["order_id"] != place(api)[1]["order_id"]


class TestThePaymentMethod:
    def test_the_providers_token_is_kept_on_the_order(self, api, log):
        status, order, _ = place(api, {**BASKET, "payment_method": "pm_card_visa"})
        assert (status, order["payment_method"]) == (201, "pm_card_visa")
        assert log(order["order_id"])[0].events[0].payload()["payment_method"] == "pm_card_visa"

    @pytest.mark.parametrize("card", ["4242 4242 4242 4241", "4242-4242-4242-4242", 4242424242424242])
    def test_a_card_number_is_a_400_naming_the_field_and_nothing_is_recorded(
        self, api, orders_log, dynamodb, card
    ):
        status, body, _ = place(api, {**BASKET, "payment_method": card})
        assert (status, [e["field"] for e in body["errors"]]) == (400, ["payment_method"])
        assert "4242" not in json.dumps(body)
        assert dynamodb.scan(TableName=orders_log)["Items"] == []

    def test_anything_else_but_a_token_is_a_422(self, api):
        status, body, _ = place(api, {**BASKET, "payment_method": "visa ending 4242"})
        assert (status, body["errors"][0]["field"]) == (422, "payment_method")


class TestTheDocumentedExample:
    def test_placing_the_documented_request_answers_the_documented_order(self, api):
        # GIVEN the examples docs/openapi.json shows for POST /orders
        schemas = json.loads(DOCUMENT.read_text())["components"]["schemas"]
        [request] = schemas["PlaceOrderRequest"]["examples"]
        [documented] = schemas["OrderResponse"]["examples"]
        # WHEN that request is placed
        status, order, _ = place(api, request)
        # THEN the answer is the documented one, but for what is the order's own
        assert status == 201
        own = {"order_id", "placed_at", "updated_at"}
        assert {k: v for k, v in order.items() if k not in own} == {
            k: v for k, v in documented.items() if k not in own
        }


class TestPersonalData:
    def test_the_owner_is_answered_with_their_address_and_the_log_holds_only_ciphertext(
        self, api, orders_log, dynamodb
    ):
        marker = f"marker-{uuid.uuid4().hex}"
        body = {**BASKET, "shipping_address": {**ADDRESS, "line1": marker}, "email": f"{marker}@example.com"}
        status, order, _ = place(api, body)
        assert status == 201
        assert order["shipping_address"]["line1"] == marker
        assert (order["email"], order["personal_data"], order["destination_country"]) == (
            f"{marker}@example.com",
            "available",
            "NL",
        )
        assert "personal" not in order
        stored = json.dumps(dynamodb.scan(TableName=orders_log)["Items"])
        assert marker not in stored
        assert "ciphertext" in stored

    def test_the_same_key_with_the_same_address_is_a_replay(self, api, log):
        key = f"checkout-{uuid.uuid4()}"
        _, first, _ = place(api, key=key)
        status, again, headers = place(api, key=key)
        assert (status, again, headers["Idempotent-Replayed"]) == (201, first, "true")

    def test_a_destination_country_agreeing_with_the_address_is_accepted(self, api):
        status, order, _ = place(api, {**BASKET, "destination_country": "NL"})
        assert (status, order["destination_country"]) == (201, "NL")


class TestCancelOrder:
    def test_cancels_an_order(self, api, log):
        _, order, _ = place(api)
        status, cancelled, headers = cancel(api, order["order_id"])
        assert status == 200
        assert cancelled["status"] == "cancelled"
        assert cancelled["cancellation_reason"] == "customer_request"
        assert headers["ETag"] == etag_of(cancelled)
        assert [c.events[0].event_type for c in log(order["order_id"])] == ["OrderCreated", "OrderCancelled"]

    def test_cancelling_twice_records_one_event(self, api, log):
        _, order, _ = place(api)
        cancel(api, order["order_id"])
        status, again, _ = cancel(api, order["order_id"])
        assert status == 200
        assert again["status"] == "cancelled"
        assert len(log(order["order_id"])) == 2

    def test_another_customer_reusing_my_idempotency_key_learns_nothing(self, api):
        _, order, _ = place(api, customer="customer-alice")
        cancel(api, order["order_id"], customer="customer-alice", key="cancel-1")
        status, _, _ = cancel(api, order["order_id"], customer="customer-mallory", key="cancel-1")
        assert status == 404

    def test_an_unknown_order_is_not_found(self, api):
        status, body, _ = cancel(api, str(uuid.uuid4()))
        assert status == 404
        assert "not found" in body["message"]

    def test_a_malformed_order_id_is_not_found(self, api):
        status, _, _ = api(sample_event("api_cancel_order_unknown_id.json"))
        assert status == 404

    @pytest.mark.parametrize("form", ["braces", "urn", "upper"])
    def test_another_spelling_of_an_order_id_names_no_order(self, api, form):
        _, order, _ = place(api)
        spelled = {
            "braces": "{" + order["order_id"] + "}",
            "urn": "urn:" * 600 + "uuid:" + order["order_id"],  # a key over DynamoDB's limit: never sent
            "upper": order["order_id"].upper(),
        }[form]
        assert cancel(api, spelled)[0] == 404

    def test_another_customers_order_is_not_found_and_stays_as_it_was(self, api, log):
        _, order, _ = place(api, customer="customer-alice")
        status, body, _ = cancel(api, order["order_id"], customer="customer-mallory")
        assert status == 404
        assert body["message"] == f"Order {order['order_id']} not found."
        assert len(log(order["order_id"])) == 1


def errors_of(response) -> dict[str, str]:
    status, body, _ = response
    assert 400 <= status < 500, (status, body)
    return {e["field"]: e["problem"] for e in body.get("errors", [])}


class TestBadInput:
    """Bad input never reaches the log and never gives a 5xx; the body names the field and the problem."""

    @pytest.fixture(autouse=True)
    def nothing_is_written(self, dynamodb, orders_log):
        yield
        assert dynamodb.scan(TableName=orders_log)["Items"] == [] or self.allow_writes

    allow_writes = False

    def test_malformed_json(self, api):
        status, body, _ = api(sample_event("api_place_order_malformed_json.json"))
        assert status == 422
        assert body["errors"][0]["field"] == "body"
        assert body["errors"][0]["problem"].startswith("malformed JSON")

    def test_the_invalid_sample_names_every_problem(self, api):
        errors = errors_of(api(sample_event("api_place_order_invalid.json")))
        assert errors["lines[0].quantity"] == "Input should be greater than 0"
        assert errors["lines[0].price"] == "Extra inputs are not permitted"
        assert "destination_country" in errors

    @pytest.mark.parametrize(
        ("body", "field", "problem"),
        [
            (
                {**BASKET, "lines": [{"sku": "SKU-TEA-001", "quantity": "2"}]},
                "lines[0].quantity",
                "valid integer",
            ),
            (
                {**BASKET, "lines": [{"sku": "SKU-TEA-001", "quantity": -1}]},
                "lines[0].quantity",
                "greater than 0",
            ),
            (
                {**BASKET, "lines": [{"sku": "SKU-TEA-001", "quantity": 2.5}]},
                "lines[0].quantity",
                "valid integer",
            ),
            ({**BASKET, "lines": []}, "lines", "at least 1 item"),
            ({**BASKET, "lines": [{"sku": "SKU-TEA-001", "quantity": 1}] * 51}, "lines", "at most 50 items"),
            ({**BASKET, "total": 1}, "total", "Extra inputs are not permitted"),
            ({"lines": BASKET["lines"]}, "shipping_address", "Field required"),
            (
                {**BASKET, "shipping_address": {**ADDRESS, "city": ""}},
                "shipping_address.city",
                "at least 1 character",
            ),
            (
                {**BASKET, "shipping_address": {**ADDRESS, "postal_code": "<>"}},
                "shipping_address.postal_code",
                "match pattern",
            ),
            (
                {**BASKET, "shipping_address": {**ADDRESS, "country": "nl"}},
                "shipping_address.country",
                "match pattern",
            ),
            (
                {**BASKET, "shipping_address": {**ADDRESS, "floor": 3}},
                "shipping_address.floor",
                "Extra inputs",
            ),
            (
                {**BASKET, "shipping_address": {k: v for k, v in ADDRESS.items() if k != "name"}},
                "shipping_address.name",
                "Field required",
            ),
            ({**BASKET, "email": "not-an-address"}, "email", "match pattern"),
            (
                {**BASKET, "destination_country": "BE"},
                "destination_country",
                "disagrees with shipping_address.country (NL)",
            ),
            ({"lines": BASKET["lines"], "destination_country": "NL"}, "shipping_address", "Field required"),
            ({**BASKET, "campaign_code": 10}, "campaign_code", "valid string"),
            ([1, 2], "body", "valid dictionary"),
        ],
    )
    def test_wrong_shapes_and_types(self, api, body, field, problem):
        errors = errors_of(place(api, body))
        assert problem in errors[field]

    def test_an_unknown_sku(self, api):
        errors = errors_of(
            place(api, {**BASKET, "lines": [*BASKET["lines"], {"sku": "SKU-NOPE", "quantity": 1}]})
        )
        assert "SKU-NOPE" in errors["lines[2].sku"]

    def test_an_unknown_campaign_code(self, api):
        assert "campaign_code" in errors_of(place(api, {**BASKET, "campaign_code": "FREESTUFF"}))

    def test_a_campaign_outside_its_window(self, api):
        assert "campaign_code" in errors_of(place(api, {**BASKET, "campaign_code": "SUMMER25"}))

    def test_an_unserved_destination(self, api):
        japan = {**BASKET, "shipping_address": {**ADDRESS, "country": "JP"}}
        assert "we do not ship to 'JP'" in errors_of(place(api, japan))["shipping_address.country"]

    def test_an_oversized_body(self, api):
        status, body, _ = place(api, json.dumps({**BASKET, "note": "x" * 70_000}))
        assert status == 413
        assert body["errors"][0]["field"] == "body"

    def test_an_invalid_idempotency_key(self, api):
        assert "Idempotency-Key" in errors_of(place(api, key="x" * 256))

    def test_a_missing_token(self, api):
        status, _, _ = api(sample_event("api_place_order_unauthenticated.json"))
        assert status == 401
        status, _, _ = api(sample_event("api_cancel_order_unauthenticated.json"))
        assert status == 401
