"""The authorisation matrix through the local gateway: every route of the template, called by a customer, by
another customer, by warehouse and privacy staff, with no token, a forged one, an expired one and a staff
token minted for another audience. Nobody gets anything their role does not allow: 0 cross-role successes.

A customer route serves any valid token acting on its own data (the token's `sub`): another principal's
order answers as a missing one. A staff route needs its scope (API Gateway answers 403 without it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests

from shipping import shipment_id_for
from tests.support.aws import template

if TYPE_CHECKING:
    from localcloud import LocalCloud

pytestmark = pytest.mark.slow

ADDRESS = {"name": "Ada", "line1": "Kade 1", "city": "Utrecht", "postal_code": "3511 AA", "country": "NL"}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/orders"): {"lines": [{"sku": "SKU-TEA-001", "quantity": 1}], "shipping_address": ADDRESS},
    ("POST", "/inventory/{sku}/receipts"): {"quantity": 1},
    ("POST", "/shipments/{shipment_id}/dispatch"): {"carrier": "PostNL", "tracking_number": "3SAUTH0001"},
    ("POST", "/orders/{order_id}/returns"): {"lines": [{"sku": "SKU-TEA-001", "quantity": 1}]},
    ("POST", "/orders/{order_id}/returns/{return_id}/receipt"): {
        "lines": [{"sku": "SKU-TEA-001", "quantity": 1, "condition": "sellable"}]
    },
}


@dataclass(frozen=True)
class Identity:
    name: str
    header: str | None  # the Authorization header, or None for no token
    subject: str | None = None  # whose token it is, when the gateway must accept it
    scopes: frozenset[str] = frozenset()


def identities(cloud: LocalCloud, alice: str) -> list[Identity]:
    def bearer(subject: str, scopes: list[str] | None = None, **options: Any) -> str:
        return f"Bearer {cloud.token(subject, scopes=scopes, **options)}"

    forged = bearer(alice)
    forged = forged[:-6] + ("AAAAAA" if not forged.endswith("AAAAAA") else "BBBBBB")
    return [
        Identity("the customer", bearer(alice), alice),
        Identity("another customer", bearer("bob-" + uuid.uuid4().hex[:6]), "bob"),
        Identity(
            "warehouse staff", bearer("wh-1", ["orders/warehouse"]), "wh-1", frozenset({"orders/warehouse"})
        ),
        Identity(
            "privacy staff", bearer("dpo-1", ["orders/privacy"]), "dpo-1", frozenset({"orders/privacy"})
        ),
        Identity("no token", None),
        Identity("a forged token", forged),
        Identity("an expired token", bearer(alice, lifetime=-120)),
        Identity(
            "staff of another audience",
            bearer("wh-2", ["orders/warehouse", "orders/privacy"], audience="another-app"),
        ),
        Identity("not a bearer token", "Basic d2gtMTpwYXNzd29yZA=="),
    ]


def expected(identity: Identity, scopes: tuple[str, ...], targets_alice: bool) -> str:
    """What the route must answer this identity: refused (401, 403), not found (404), or served."""
    if identity.subject is None:
        return "401"
    if not set(scopes) <= identity.scopes:
        return "403"
    if targets_alice and identity.name != "the customer" and not scopes:
        return "404"  # a customer route on the customer's own resources, by someone else
    return "served"


def test_no_route_serves_anyone_its_role_does_not_allow(cloud: LocalCloud) -> None:
    alice = f"alice-{uuid.uuid4().hex[:8]}"
    alice_token = {"Authorization": f"Bearer {cloud.token(alice)}"}
    placed = requests.post(
        f"{cloud.gateway_url}/orders", json=BODIES[("POST", "/orders")], headers=alice_token, timeout=60
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    values = {
        "order_id": order_id,
        "shipment_id": shipment_id_for(order_id),
        "sku": "SKU-TEA-001",
        "customer_id": alice,
        "return_id": str(uuid.uuid4()),  # no such return: served as a 404 to staff, refused to anyone else
    }
    routes = [route for route in cloud.routes if route.kind == "http"]
    declared = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for resource in template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    assert {(route.method, route.path) for route in routes} == declared  # every route, the new ones too

    cross_role_successes, wrong = [], []
    calls = [(identity, route) for route in routes for identity in identities(cloud, alice)]
    # The refusals first: the served calls change state (a cancellation, an erasure) that others would see.
    calls.sort(key=lambda call: expected(call[0], call[1].scopes, _targets_alice(call[1].path)) == "served")
    for identity, route in calls:
        path = route.path.format(**values)
        headers = {"Authorization": identity.header} if identity.header else {}
        response = requests.request(
            route.method,
            f"{cloud.gateway_url}{path}",
            json=BODIES.get((route.method, route.path)),
            headers=headers,
            timeout=60,
        )
        want = expected(identity, route.scopes, _targets_alice(route.path))
        got = response.status_code
        if want != "served" and 200 <= got < 300:
            cross_role_successes.append(f"{identity.name}: {route.method} {path} -> {got}")
        if (want == "served" and (got in (401, 403) or got >= 500)) or (
            want != "served" and str(got) != want
        ):
            wrong.append(f"{identity.name}: {route.method} {path} -> {got}, expected {want}: {response.text}")
        if want in ("401", "403"):
            assert response.json().get("message"), response.text  # every refusal says what was wrong
        if route.path == "/orders" and route.method == "GET" and got == 200:
            assert order_id not in response.text or identity.name == "the customer"

    assert cross_role_successes == []
    assert wrong == []


def _targets_alice(path: str) -> bool:
    return "{order_id}" in path  # her order (and its shipment, behind the warehouse scope)
