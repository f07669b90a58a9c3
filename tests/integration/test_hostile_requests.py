"""What an attacker or a careless client can send every HTTP function: bodies that are not UTF-8, not JSON,
nested 20,000 levels deep or with 5,000-digit numbers, other content types, odd tokens, header, path and
query values. Each is answered with a 4xx in the one error shape (`message` and `errors`), never a 5xx: a
Lambda error is an alarm and a retry on AWS, and says nothing the caller can act on."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.support.aws import (
    create_personal_data_vault,
    create_table,
    forget_parameter_values,
    moto_account,
    put_pricing_parameters,
)
from tests.support.lambdas import LambdaContext, http_event, load_function
from tests.support.orders import order_body

ORDER = order_body(("SKU-TEA-001", 1))
ORDER_ID = "0b6c3f8e-51a4-4f7d-9c0e-7a2d4b1e9f35"
DEEP = "[" * 20_000 + "]" * 20_000  # about 40 KB: under the size limit, over any parser's stack
LONG_NUMBER = "9" * 5_000  # over Python's 4,300-digit limit for int()


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def fields(self) -> list[str]:
        return [error["field"] for error in self.body["errors"]]


@dataclass
class Apis:
    """Every HTTP function's real handler, each with its own tables, in one moto account."""

    modules: dict[str, Any]
    context: LambdaContext
    parameters: dict[str, str]  # the template's SSM parameters: logical id -> name

    def call(self, function: str, event: dict[str, Any]) -> Answer:
        response = self.modules[function].lambda_handler(event, self.context)
        body = json.loads(response["body"]) if response.get("body") else {}
        answer = Answer(response["statusCode"], body, response.get("headers") or {})
        if answer.status >= 400:
            assert isinstance(body.get("message"), str), body  # the one shape, whatever went wrong
            assert all(set(error) == {"field", "problem"} for error in body["errors"]), body
        return answer

    def request(
        self,
        function: str,
        method: str,
        path: str,
        path_parameters: dict[str, str] | None = None,
        **options: Any,
    ) -> Answer:
        event = http_event(method, path, **options)
        if path_parameters:
            event["pathParameters"] = path_parameters
        return self.call(function, event)


@pytest.fixture(scope="module")
def apis() -> Iterator[Apis]:
    """Built once for the module (a cold start of each function, its tables): every request here is refused,
    or writes an order no other test reads; the one test that breaks configuration puts it back."""
    with moto_account() as monkeypatch:
        dynamodb = boto3.client("dynamodb")
        names = put_pricing_parameters(monkeypatch)
        create_personal_data_vault(monkeypatch)
        modules = {}
        monkeypatch.setenv("EVENT_LOG_TABLE", create_table(dynamodb, "OrdersEventLog", "orders-event-log"))
        modules["orders_api"] = load_function("orders_api")
        modules["privacy_api"] = load_function("privacy_api")
        view_generations(monkeypatch, dynamodb, "OrdersView", names["OrdersViewGenerations"])
        modules["orders_query_api"] = load_function("orders_query_api")
        monkeypatch.setenv("EVENT_LOG_TABLE", create_table(dynamodb, "ShippingEventLog", "shipping-log"))
        view_generations(monkeypatch, dynamodb, "ShipmentsView", names["ShipmentsViewGenerations"])
        modules["shipping_api"] = load_function("shipping_api")
        monkeypatch.setenv("EVENT_LOG_TABLE", create_table(dynamodb, "InventoryEventLog", "inventory-log"))
        monkeypatch.setenv("INITIAL_STOCK_PARAMETER", names["InitialStockParameter"])
        modules["inventory_api"] = load_function("inventory_api")
        yield Apis(modules, LambdaContext(), names)


def view_generations(monkeypatch, dynamodb, view: str, registry: str) -> None:
    """A read model's blue and green tables and its registry (the template's: blue active), as the query
    functions read them."""
    tables = {
        generation: create_table(dynamodb, view, f"{view.lower()}-{generation}")
        for generation in ("blue", "green")
    }
    monkeypatch.setenv("VIEW_TABLES", json.dumps(tables))
    monkeypatch.setenv("VIEW_GENERATIONS", registry)
    monkeypatch.setenv("VIEW_GENERATIONS_MAX_AGE", "0")


def order_text(**changes: Any) -> str:
    return json.dumps({**ORDER, **changes})


def base64_event(method: str, path: str, raw: bytes, **options: Any) -> dict[str, Any]:
    event = http_event(method, path, **options)
    event["body"] = base64.b64encode(raw).decode()
    event["isBase64Encoded"] = True
    return event


# Every route that reads a body: (function, path, path parameters, a valid body's text).
BODY_ROUTES = [
    ("orders_api", "/orders", None, order_text()),
    (
        "shipping_api",
        "/shipments/0b6c3f8e-51a4-4f7d-9c0e-7a2d4b1e9f35/dispatch",
        {"shipment_id": "0b6c3f8e-51a4-4f7d-9c0e-7a2d4b1e9f35"},
        '{"carrier": "PostNL", "tracking_number": "3S1234"}',
    ),
    ("inventory_api", "/inventory/SKU-TEA-001/receipts", {"sku": "SKU-TEA-001"}, '{"quantity": 5}'),
]
ROUTE_IDS = [route[0] for route in BODY_ROUTES]


@pytest.mark.parametrize(("function", "path", "path_parameters", "valid"), BODY_ROUTES, ids=ROUTE_IDS)
class TestBodies:
    def test_a_body_that_is_not_utf8(self, apis, function, path, path_parameters, valid):
        raw = valid[:-1].encode() + b', "x": "SKU-\xff"}'
        event = base64_event("POST", path, raw)
        event["pathParameters"] = path_parameters
        answer = apis.call(function, event)
        assert (answer.status, answer.fields) == (422, ["body"])
        assert "UTF-8" in answer.body["errors"][0]["problem"]

    def test_a_lone_surrogate_in_a_text_body(self, apis, function, path, path_parameters, valid):
        answer = apis.request(function, "POST", path, path_parameters, body=valid[:-1] + ', "x": "\udcff"}')
        assert (answer.status, answer.fields) == (422, ["body"])

    def test_a_body_that_is_not_base64_though_it_says_so(self, apis, function, path, path_parameters, valid):
        event = http_event("POST", path, body="%%%not base64")
        event["isBase64Encoded"] = True
        event["pathParameters"] = path_parameters
        assert apis.call(function, event).status == 422

    @pytest.mark.parametrize(
        "content_type",
        [
            "multipart/form-data",  # no boundary: Powertools would raise ValueError
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "text/plain",
            "application/jsonp",
            "application/xml",
            "\x00",
        ],
    )
    def test_a_content_type_other_than_json_is_a_415(
        self, apis, function, path, path_parameters, valid, content_type
    ):
        answer = apis.request(
            function, "POST", path, path_parameters, body=valid, headers={"content-type": content_type}
        )
        assert (answer.status, answer.fields) == (415, ["Content-Type"])
        assert answer.body["message"] == "The request body must be JSON."

    def test_a_body_nested_20000_arrays_deep(self, apis, function, path, path_parameters, valid):
        answer = apis.request(function, "POST", path, path_parameters, body=DEEP)
        assert (answer.status, answer.fields) == (422, ["body"])
        assert "nested deeper than" in answer.body["errors"][0]["problem"]

    def test_a_deep_value_inside_a_valid_body(self, apis, function, path, path_parameters, valid):
        answer = apis.request(function, "POST", path, path_parameters, body=valid[:-1] + f', "x": {DEEP}}}')
        assert (answer.status, answer.fields) == (422, ["body"])

    def test_brackets_inside_strings_are_not_nesting(self, apis, function, path, path_parameters, valid):
        answer = apis.request(function, "POST", path, path_parameters, body=valid[:-1] + ', "x": "[[[[["}')
        assert answer.status == 422
        assert "x" in answer.fields  # refused by the schema (no such field), not as nesting

    def test_a_number_with_5000_digits(self, apis, function, path, path_parameters, valid):
        answer = apis.request(
            function, "POST", path, path_parameters, body=valid[:-1] + f', "x": {LONG_NUMBER}}}'
        )
        assert (answer.status, answer.fields) == (422, ["body"])
        assert "sys." not in answer.body["errors"][0]["problem"]  # no hint of the implementation

    def test_malformed_json(self, apis, function, path, path_parameters, valid):
        answer = apis.request(function, "POST", path, path_parameters, body=valid[:-1])
        assert (answer.status, answer.fields) == (422, ["body"])
        assert answer.body["errors"][0]["problem"].startswith("malformed JSON")

    def test_the_size_limit_counts_bytes_not_characters(self, apis, function, path, path_parameters, valid):
        # 40,000 characters, 80,000 bytes in UTF-8: over the 64 KiB limit
        answer = apis.request(
            function, "POST", path, path_parameters, body=json.dumps({"x": "é" * 40_000}, ensure_ascii=False)
        )
        assert (answer.status, answer.fields) == (413, ["body"])


class TestPlaceOrderBodies:
    def test_the_5000_digit_quantity_of_the_issue(self, apis):
        body = order_text().replace('"quantity": 1', f'"quantity": {LONG_NUMBER}')
        answer = apis.request("orders_api", "POST", "/orders", body=body)
        assert (answer.status, answer.fields) == (422, ["body"])

    def test_json_in_any_case_with_a_charset_is_json(self, apis):
        headers = {"content-type": "Application/JSON; charset=utf-8"}
        assert apis.request("orders_api", "POST", "/orders", body=order_text(), headers=headers).status == 201

    def test_a_body_without_a_content_type_is_read_as_json(self, apis):
        event = http_event("POST", "/orders", body=order_text())
        event["headers"].pop("content-type", None)
        assert apis.call("orders_api", event).status == 201


class TestTokens:
    @pytest.mark.parametrize(
        ("function", "method", "path"),
        [
            ("orders_api", "POST", "/orders"),
            ("orders_query_api", "GET", "/orders"),
            ("privacy_api", "DELETE", "/customers/me/personal-data"),
        ],
    )
    def test_a_subject_over_128_characters_is_a_403(self, apis, function, method, path):
        body = order_text() if method == "POST" else None
        answer = apis.request(function, method, path, body=body, customer="c" * 129)
        assert (answer.status, answer.fields) == (403, ["Authorization"])

    @pytest.mark.parametrize("subject", ["", "tab\tinside", "nul\x00inside"])
    def test_an_empty_or_unprintable_subject_is_refused_in_the_one_shape(self, apis, subject):
        answer = apis.request("orders_query_api", "GET", "/orders", customer=subject)
        assert answer.status in (401, 403)
        assert answer.fields == ["Authorization"]


class TestHeaderValues:
    @pytest.mark.parametrize("key", ["a\x00b", "k" * 100_000, "clé", "\u202e", ""])
    def test_an_odd_idempotency_key_is_a_400_naming_it(self, apis, key):
        answer = apis.request(
            "orders_api", "POST", "/orders", body=order_text(), headers={"idempotency-key": key}
        )
        assert (answer.status, answer.fields) == (400, ["Idempotency-Key"])

    @pytest.mark.parametrize("value", ["\x00", '"' * 50_000, "é" * 1_000])
    def test_an_odd_if_none_match_is_answered(self, apis, value):
        order = apis.request("orders_api", "POST", "/orders", body=order_text()).body
        path = f"/orders/{order['order_id']}"
        answer = apis.request(
            "orders_query_api", "GET", path, {"order_id": order["order_id"]}, headers={"if-none-match": value}
        )
        assert answer.status in (200, 404)  # 404 until the projection has the order


ODD_VALUES = ["a\x00", "x" * 3_000, "é" * 500, "\u202e\ufeff", "%00", "..", " "]


class TestPathValues:
    @pytest.mark.parametrize("value", ODD_VALUES)
    def test_an_odd_order_id_is_not_found_and_not_echoed(self, apis, value):
        for function, method, path in (
            ("orders_query_api", "GET", f"/orders/{value}"),
            ("orders_query_api", "GET", f"/orders/{value}/events"),
            ("orders_api", "POST", f"/orders/{value}/cancel"),
        ):
            answer = apis.request(function, method, path, {"order_id": value})
            assert answer.status == 404, (function, path[:40], answer.body)
            assert value not in answer.body["message"] or value in ("..", " ")

    @pytest.mark.parametrize("value", ODD_VALUES)
    def test_an_odd_return_id_is_not_found_and_not_echoed(self, apis, value):
        order = apis.request("orders_api", "POST", "/orders", body=order_text()).body
        path = f"/orders/{order['order_id']}/returns/{value}/receipt"
        line = {"sku": "SKU-TEA-001", "quantity": 1, "condition": "sellable"}
        event = http_event("POST", path, body={"lines": [line]})
        event["pathParameters"] = {"order_id": order["order_id"], "return_id": value}
        event["requestContext"]["authorizer"]["jwt"]["scopes"] = ["orders/warehouse"]
        answer = apis.call("orders_api", event)
        assert answer.status == 404, answer.body  # never a 500: the id is refused before any command
        assert value not in answer.body["message"] or value in ("..", " ")

    def test_the_nul_suffix_of_the_issue_is_a_404_in_the_one_shape(self, apis):
        order = apis.request("orders_api", "POST", "/orders", body=order_text()).body
        order_id = order["order_id"] + "\x00"
        answer = apis.request("orders_query_api", "GET", f"/orders/{order_id}", {"order_id": order_id})
        assert answer.status == 404
        assert answer.body["errors"] == []

    @pytest.mark.parametrize("value", ODD_VALUES)
    def test_an_odd_shipment_id_or_sku(self, apis, value):
        assert (
            apis.request("shipping_api", "GET", f"/shipments/{value}", {"shipment_id": value}).status == 404
        )
        assert apis.request("inventory_api", "GET", f"/inventory/{value}", {"sku": value}).status == 404
        answer = apis.request(
            "inventory_api", "POST", f"/inventory/{value}/receipts", {"sku": value}, body='{"quantity": 1}'
        )
        assert answer.status == 404

    @pytest.mark.parametrize("value", ["a\x00", "\u202e\x07", "c" * 129])
    def test_an_odd_customer_id_for_privacy_staff(self, apis, value):
        answer = apis.request(
            "privacy_api", "DELETE", f"/customers/{value}/personal-data", {"customer_id": value}
        )
        assert answer.status in (400, 404)


class TestQueryValues:
    @pytest.mark.parametrize("value", ["\x00", "9" * 5_000, "-1", "1e3", "é", "0x10", "1" * 200])
    def test_an_odd_limit(self, apis, value):
        for function, path in (("orders_query_api", "/orders"), ("shipping_api", "/shipments")):
            answer = apis.request(function, "GET", path, query={"limit": value})
            assert (answer.status, answer.fields) == (400, ["limit"]), (function, value[:20])

    @pytest.mark.parametrize("value", ["\x00", "x" * 5_000, "READY_TO_SHIP", "é"])
    def test_an_odd_shipment_status(self, apis, value):
        answer = apis.request("shipping_api", "GET", "/shipments", query={"status": value})
        assert (answer.status, answer.fields) == (400, ["status"])

    @pytest.mark.parametrize(
        ("function", "method", "path", "path_parameters"),
        [
            ("orders_query_api", "GET", "/orders", None),
            ("orders_query_api", "GET", f"/orders/{ORDER_ID}", {"order_id": ORDER_ID}),
            ("orders_api", "POST", "/orders", None),
            ("shipping_api", "GET", "/shipments", None),
            ("inventory_api", "GET", "/inventory/SKU-TEA-001", {"sku": "SKU-TEA-001"}),
            ("privacy_api", "DELETE", "/customers/me/personal-data", None),
        ],
    )
    def test_a_query_parameter_the_route_does_not_take_is_a_400_naming_it(
        self, apis, function, method, path, path_parameters
    ):
        # "asof" for "asOf": ignored, the current order would be answered as if it were the one asked for
        body = order_text() if method == "POST" else None
        answer = apis.request(function, method, path, path_parameters, body=body, query={"asof": "x" * 3_000})
        assert (answer.status, answer.fields) == (400, ["asof"])
        assert "x" * 100 not in json.dumps(answer.body)

    def test_a_3000_character_parameter_name_is_not_echoed_in_full(self, apis):
        answer = apis.request("orders_query_api", "GET", "/orders", query={"n" * 3_000: "1"})
        assert (answer.status, answer.fields) == (400, ["n" * 64])

    def test_version_and_as_of_together_are_a_400(self, apis):
        order = apis.request("orders_api", "POST", "/orders", body=order_text()).body
        answer = apis.request(
            "orders_query_api",
            "GET",
            f"/orders/{order['order_id']}",
            {"order_id": order["order_id"]},
            query={"version": "1", "asOf": "2026-11-26T10:00:00Z"},
        )
        assert (answer.status, answer.fields) == (400, ["asOf"])


class TestBrokenConfiguration:
    @pytest.fixture
    def break_catalog(self, apis: Apis) -> Iterator[Callable[[], None]]:
        """Puts a catalog that is not JSON where the orders API reads it; the template's comes back after."""
        ssm, name = boto3.client("ssm"), apis.parameters["CatalogParameter"]
        catalog = ssm.get_parameter(Name=name)["Parameter"]["Value"]

        def put(value: str) -> None:
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
            forget_parameter_values()

        yield lambda: put("{not json")
        put(catalog)

    def test_a_broken_pricing_configuration_is_a_503_with_retry_after(self, apis, break_catalog, caplog):
        break_catalog()
        answer = apis.request("orders_api", "POST", "/orders", body=order_text())
        assert answer.status == 503
        assert int(answer.headers["Retry-After"]) > 0
        assert "catalog" not in json.dumps(answer.body).lower()  # the log names the parameter, not the answer
        [logged] = [r for r in caplog.records if r.getMessage() == "pricing configuration unavailable"]
        assert logged.parameter == apis.parameters["CatalogParameter"]

    def test_a_retry_of_a_placed_order_is_answered_from_the_log(self, apis, break_catalog):
        key = {"idempotency-key": f"checkout-{uuid.uuid4()}"}
        placed = apis.request("orders_api", "POST", "/orders", body=order_text(), headers=key)
        break_catalog()
        again = apis.request("orders_api", "POST", "/orders", body=order_text(), headers=key)
        assert (again.status, again.body, again.headers.get("Idempotent-Replayed")) == (
            201,
            placed.body,
            "true",
        )


class TestUnknownRoutes:
    @pytest.mark.parametrize(
        "function", ["orders_api", "orders_query_api", "shipping_api", "inventory_api", "privacy_api"]
    )
    def test_a_route_the_function_does_not_serve_is_a_404_in_the_one_shape(self, apis, function):
        answer = apis.request(function, "PATCH", "/nowhere")
        assert (answer.status, answer.body) == (404, {"message": "Not Found", "errors": []})
