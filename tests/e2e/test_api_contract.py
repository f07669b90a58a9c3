"""The API contract, end to end: Schemathesis generates requests from the committed OpenAPI document
(docs/openapi.json) for every operation, valid ones and invalid ones, and sends them through the gateway of
the shared local cloud, with a customer's token (a staff token with the route's scope on staff routes). Every
answer must be one the document describes (status, content type, headers, body schema) and none a server
error; an invalid request must be refused; a 2xx must turn into a refusal without the token and with a bad
one (Schemathesis' own probes); a request without a token, or with one the authorizer refuses, is answered
401 by the gateway, in the documented shape, saying why in `www-authenticate`.

Derandomized, so a red run is reproducible; no per-example deadline on a shared machine. The first module of
the package: what it does must not change what the modules after it find. So it buys only from SKUs no other
module buys or counts (`CONTRACT_SKU`), receives no stock for theirs, and erases personal data only of
customers of its own (`contract_customer`)."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ops.openapi import DOCUMENT
from shipping.shipment import shipment_id_for
from tests.e2e.conftest import CONTRACT_FIGURES, UNANSWERED_SKU
from tests.support.orders import ADDRESS, order_body
from tests.support.polling import wait_until

if TYPE_CHECKING:
    from schemathesis import Case

    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

CASES_PER_OPERATION = 200
DOCUMENT_JSON = json.loads(DOCUMENT.read_text())
SCHEMA = schemathesis.openapi.from_path(DOCUMENT)
OPERATIONS = [(path, method) for path, item in DOCUMENT_JSON["paths"].items() for method in item]
# The receipts before the split (the document has them after): once the buckets operation has left the
# contract's SKU in up to 64 buckets, each receipt is shared among them all, which took 35 s of the suite
# against about 5 s in one bucket. A receipt into many buckets is the subject of the interleavings
# (tests/unit/inventory/test_buckets_interleavings.py); the orders still meet the split SKU.
SPLIT, RECEIPTS = ("/inventory/{sku}/buckets", "put"), ("/inventory/{sku}/receipts", "post")
OPERATIONS.remove(RECEIPTS)
OPERATIONS.insert(OPERATIONS.index(SPLIT), RECEIPTS)
OPERATION_IDS = [f"{method.upper()} {path}" for path, method in OPERATIONS]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,  # a 2xx must become a refusal without the token and with an invalid one
]
RESPONSE_CHECKS = CHECKS[:5]
CUSTOMER = "api-contract-customer"
# The customer of the shipments the contract dispatches and delivers: their personal data is never erased (a
# shipment without an address is held, not dispatched), and no generated customer id is theirs.
SHIPPER = "contract-shipper"
STAFF = "api-contract-staff"
# Other modules buy these and count their stock (ten kettles for forty customers, tea before and after):
# this module's orders and receipts go to a SKU no other module touches, in stock and priced.
OTHER_MODULES_SKUS = {"SKU-TEA-001", "SKU-POT-001", "SKU-KET-001", UNANSWERED_SKU}
CONTRACT_SKU = "SKU-SMP-001"


def scopes_of(path: str, method: str) -> list[str]:
    security = DOCUMENT_JSON["paths"][path][method].get("security", DOCUMENT_JSON["security"])
    return list(security[0]["OrdersJwt"])


class Tokens:
    """The bearer token of each operation: the contract customer's, or staff's with the route's scopes.
    Schemathesis applies it to every generated case but those meant to go without (a negative case of the
    security scheme), so its checks know the token is the real one."""

    minted: dict[str, str] = {}  # operation label -> token, minted once the cloud runs

    def get(self, case: Case, context: Any) -> str:
        return self.minted[case.operation.label]

    def set(self, case: Case, data: str, context: Any) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


SCHEMA.auth(refresh_interval=None)(Tokens)


def contract_customer(value: str) -> str:
    """A customer id only this module uses, for a generated one the privacy API would accept (1 to 128
    characters): staff erasing it can never erase another module's customer. Others stay as generated, to be
    refused."""
    prefix = "api-contract-"
    if value.startswith(prefix) or not 1 <= len(value) <= 128:
        return value
    return (prefix + value)[:128]


def kept_to_this_module(case: Case) -> Case:
    """The case, its SKUs and customer ids changed where another module's state could be touched."""
    path = case.operation.path
    lines = case.body.get("lines") if path == "/orders" and isinstance(case.body, dict) else None
    for line in lines if isinstance(lines, list) else []:
        if isinstance(line, dict) and str(line.get("sku")).strip().upper() in OTHER_MODULES_SKUS:
            line["sku"] = CONTRACT_SKU
    parameters = case.path_parameters or {}
    if path.startswith("/inventory/") and str(parameters.get("sku")).strip().upper() in OTHER_MODULES_SKUS:
        parameters["sku"] = CONTRACT_SKU
    if path == "/customers/{customer_id}/personal-data" and isinstance(parameters.get("customer_id"), str):
        parameters["customer_id"] = contract_customer(parameters["customer_id"])
    return case


@pytest.fixture(scope="module")
def session() -> requests.Session:
    return requests.Session()


@pytest.fixture(scope="module")
def known(cloud: LocalCloud, tokens: None) -> dict[str, dict[str, str]]:
    """Path parameters that name something, per path: the contract customer's order to cancel and read, the
    shipper's two orders, one whose shipment is ready to dispatch, one whose shipment is dispatched, ready to
    deliver; the contract's SKU and customer. Generated ids name nothing, so without these no 2xx of a
    route with a path parameter would be held to the document."""
    staff = {"Authorization": f"Bearer {cloud.token(STAFF, scopes=['orders/warehouse'])}"}

    def place(customer: str, key: str) -> str:
        placed = requests.post(
            f"{cloud.gateway_url}/orders",
            json=order_body((CONTRACT_SKU, 1)),
            headers={
                "Authorization": f"Bearer {cloud.token(customer)}",
                "Idempotency-Key": f"contract-{key}",
            },
            timeout=60,
        )
        assert placed.status_code == 201, placed.text
        return str(placed.json()["order_id"])

    def shipment(order_id: str, status: str) -> str:
        shipment_id = shipment_id_for(order_id)

        def reached() -> bool:
            response = requests.get(f"{cloud.gateway_url}/shipments/{shipment_id}", headers=staff, timeout=60)
            return response.status_code == 200 and response.json()["status"] == status

        wait_until(reached, timeout=90, interval=0.25)
        return shipment_id

    to_cancel = place(CUSTOMER, "cancel")
    to_dispatch, to_deliver = place(SHIPPER, "dispatch"), place(SHIPPER, "deliver")
    dispatched = shipment(to_deliver, "ready_to_ship")
    response = requests.post(
        f"{cloud.gateway_url}/shipments/{dispatched}/dispatch",
        json={"carrier": "PostNL", "tracking_number": "3SCONTRACT1"},
        headers=staff,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    ready = shipment(to_dispatch, "ready_to_ship")
    ids = {
        "order_id": to_cancel,
        "shipment_id": ready,
        "sku": CONTRACT_SKU,
        "customer_id": CUSTOMER,
        # no return of the contract's orders exists (none is delivered): its receipt is a 404, its request a
        # 409 (the order is not delivered), each in the documented shape
        "return_id": "00000000-0000-4000-8000-000000000000",
    }
    return {
        path: {name: ids[name] for name in _path_names(path)}
        | ({"shipment_id": dispatched} if path.endswith("/deliver") else {})
        for path, _ in OPERATIONS
    }


@pytest.fixture(scope="module", autouse=True)
def tokens(cloud: LocalCloud) -> None:
    for path, method in OPERATIONS:
        scopes = scopes_of(path, method)
        subject = STAFF if scopes else CUSTOMER
        Tokens.minted[SCHEMA[path][method.upper()].label] = cloud.token(subject, scopes=scopes or None)


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=OPERATION_IDS)
def test_every_answer_is_one_the_document_describes(
    cloud: LocalCloud,
    session: requests.Session,
    known: dict[str, dict[str, str]],
    request: pytest.FixtureRequest,
    path: str,
    method: str,
) -> None:
    operation = SCHEMA[path][method.upper()]
    answered: Counter[int] = Counter()
    started = time.monotonic()
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE, auth_storage=SCHEMA.auth),
        operation.as_strategy(GenerationMode.NEGATIVE, auth_storage=SCHEMA.auth),
    ]
    if known[path]:  # and valid requests about things that exist
        strategies.append(
            operation.as_strategy(
                GenerationMode.POSITIVE, auth_storage=SCHEMA.auth, path_parameters=known[path]
            )
        )

    @settings(
        max_examples=CASES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies).map(kept_to_this_module))
    def answers_as_documented(case: Case) -> None:
        response = case.call(base_url=cloud.gateway_url, session=session, timeout=60)
        answered[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, transport_kwargs={"session": session, "timeout": 60})

    answers_as_documented()
    request.config.stash.setdefault(CONTRACT_FIGURES, []).append(
        f"{operation.label}: {sum(answered.values())} cases in {time.monotonic() - started:.1f} s, "
        f"statuses {dict(sorted(answered.items()))}"
    )
    assert sum(answered.values()) >= CASES_PER_OPERATION
    assert not [status for status in answered if status >= 500]


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _some_case(path: str, method: str) -> Case:
    return SCHEMA[path][method.upper()].Case(
        path_parameters={name: "0b6c3f8e-51a4-4f7d-9c0e-7a2d4b1e9f35" for name in _path_names(path)}
    )


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(
    ("token", "why"),
    [
        (None, "the request has no token"),
        ("not-a-jwt", "the token is not a valid JWT"),
        ("expired", "the token has expired"),
        ("other-audience", "the token does not have a valid audience"),
    ],
)
def test_without_a_valid_token_the_gateway_answers_401_saying_why(
    cloud: LocalCloud, session: requests.Session, path: str, method: str, token: str | None, why: str
) -> None:
    scopes = scopes_of(path, method) or None
    bearer = {
        None: None,
        "not-a-jwt": "not-a-jwt",
        "expired": cloud.token(CUSTOMER, scopes=scopes, lifetime=-60),
        "other-audience": cloud.token(CUSTOMER, scopes=scopes, audience="someone-else"),
    }[token]
    case = _some_case(path, method)
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = case.call(base_url=cloud.gateway_url, session=session, headers=headers, timeout=60)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}  # API Gateway's body, exactly: the Problem shape
    [challenge] = response.headers["www-authenticate"]  # Schemathesis' response: every value of a header
    assert 'error="invalid_token"' in challenge
    assert f'error_description="{why}"' in challenge
    case.validate_response(response, checks=RESPONSE_CHECKS)


STAFF_OPERATIONS = [(path, method) for path, method in OPERATIONS if scopes_of(path, method)]


@pytest.mark.parametrize(
    ("path", "method"), STAFF_OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in STAFF_OPERATIONS]
)
def test_a_staff_route_without_its_scope_is_a_403_naming_the_scope(
    cloud: LocalCloud, session: requests.Session, path: str, method: str
) -> None:
    case = _some_case(path, method)
    headers = {"Authorization": f"Bearer {cloud.token(CUSTOMER)}"}
    response = case.call(base_url=cloud.gateway_url, session=session, headers=headers, timeout=60)
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    [challenge] = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert f'scope="{" ".join(scopes_of(path, method))}"' in challenge
    case.validate_response(response, checks=RESPONSE_CHECKS)


class TestTheGatewaysOwnAnswers:
    """What the gateway answers before any function: the same shape (`message`), as API Gateway words it."""

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/nowhere"),
            ("PATCH", "/orders"),
            ("DELETE", "/orders"),
            ("PUT", "/shipments"),
            ("GET", "/"),
        ],
    )
    def test_an_unknown_route_or_method_is_a_404(self, cloud: LocalCloud, method: str, path: str) -> None:
        # API Gateway HTTP APIs answer a method a path does not have like a path it does not have.
        response = requests.request(method, f"{cloud.gateway_url}{path}", timeout=60)
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"})

    def test_a_body_over_the_gateways_10_mb_is_a_413(self, cloud: LocalCloud) -> None:
        response = requests.post(
            f"{cloud.gateway_url}/orders",
            data=b"x" * (10 * 1024 * 1024 + 1),
            headers={"Authorization": f"Bearer {cloud.token(CUSTOMER)}", "Content-Type": "application/json"},
            timeout=60,
        )
        assert (response.status_code, response.json()) == (413, {"message": "Request Entity Too Large"})


def _order(**changes: Any) -> dict[str, Any]:
    return order_body((CONTRACT_SKU, 1), **changes)


class TestTheIssuesRequestsThroughTheGateway:
    """The requests issue 12 found answered 500, sent as curl sent them: each a 4xx in the Problem shape."""

    def post(
        self, cloud: LocalCloud, data: bytes | str, content_type: str = "application/json", **headers: str
    ):
        response = requests.post(
            f"{cloud.gateway_url}/orders",
            data=data,
            headers={
                "Authorization": f"Bearer {cloud.token(CUSTOMER)}",
                "Content-Type": content_type,
                **headers,
            },
            timeout=60,
        )
        return self.refusal(response)

    @staticmethod
    def refusal(response: requests.Response) -> tuple[int, list[str]]:
        body = response.json()
        assert isinstance(body["message"], str), body
        assert all(set(error) == {"field", "problem"} for error in body["errors"]), body
        return response.status_code, [error["field"] for error in body["errors"]]

    def test_a_body_that_is_not_utf8(self, cloud: LocalCloud) -> None:
        raw = (
            b'{"lines":[{"sku":"SKU-\xff","quantity":1}],"shipping_address":'
            + json.dumps(ADDRESS).encode()
            + b"}"
        )
        assert self.post(cloud, raw) == (422, ["body"])

    def test_multipart_without_a_boundary(self, cloud: LocalCloud) -> None:
        assert self.post(cloud, json.dumps(_order()), "multipart/form-data") == (415, ["Content-Type"])

    def test_text_plain(self, cloud: LocalCloud) -> None:
        assert self.post(cloud, json.dumps(_order()), "text/plain") == (415, ["Content-Type"])

    def test_a_body_nested_20000_arrays_deep(self, cloud: LocalCloud) -> None:
        assert self.post(cloud, "[" * 20_000 + "]" * 20_000) == (422, ["body"])

    def test_a_quantity_of_5000_digits(self, cloud: LocalCloud) -> None:
        text = json.dumps(_order()).replace('"quantity": 1', '"quantity": ' + "9" * 5_000)
        assert self.post(cloud, text) == (422, ["body"])

    def test_the_size_limit_counts_bytes(self, cloud: LocalCloud) -> None:
        text = json.dumps(_order(campaign_code="é" * 40_000), ensure_ascii=False)  # 40,000 characters, 80 KB
        assert self.post(cloud, text.encode()) == (413, ["body"])

    @pytest.mark.parametrize(("subject", "status"), [("s" * 129, 403), ("", 401)])
    def test_a_subject_over_128_characters_or_empty(
        self, cloud: LocalCloud, subject: str, status: int
    ) -> None:
        response = requests.get(
            f"{cloud.gateway_url}/orders",
            headers={"Authorization": f"Bearer {cloud.token(subject)}"},
            timeout=60,
        )
        assert self.refusal(response) == (status, ["Authorization"])

    def test_a_nul_after_an_order_id_is_a_404_that_does_not_echo_it(self, cloud: LocalCloud) -> None:
        headers = {"Authorization": f"Bearer {cloud.token(CUSTOMER)}"}
        placed = requests.post(f"{cloud.gateway_url}/orders", json=_order(), headers=headers, timeout=60)
        assert placed.status_code == 201, placed.text
        response = requests.get(
            f"{cloud.gateway_url}/orders/{placed.json()['order_id']}%00", headers=headers, timeout=60
        )
        assert self.refusal(response) == (404, [])
        long_id = requests.get(f"{cloud.gateway_url}/orders/{'x' * 3_000}", headers=headers, timeout=60)
        assert self.refusal(long_id) == (404, [])
        assert "x" * 100 not in long_id.text

    def test_version_and_as_of_together_are_a_400(self, cloud: LocalCloud) -> None:
        headers = {"Authorization": f"Bearer {cloud.token(CUSTOMER)}"}
        response = requests.get(
            f"{cloud.gateway_url}/orders/0b6c3f8e-51a4-4f7d-9c0e-7a2d4b1e9f35",
            params={"version": "5", "asOf": "2026-11-26T10:00:00Z"},
            headers=headers,
            timeout=60,
        )
        assert self.refusal(response) == (400, ["asOf"])
