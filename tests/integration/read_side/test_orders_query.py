"""The orders query API's real handler on moto: every route, the caller's own orders only, pagination with
opaque cursors, conditional requests, and time travel to a version or a time."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta

import pytest

from eventcore.lambdas.http import etag_of
from eventcore.read.cursors import encode_cursor
from tests.support.lambdas import sample_event
from tests.support.read_side import commits_for, lifecycle


def field_of(body: dict) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def recorded_times(read_side, order_id: str) -> list[datetime]:
    return [datetime.fromisoformat(c.committed_at) for c in read_side.store.read(f"Order-{order_id}")]


class TestGetOrder:
    def test_answers_the_read_models_row_with_the_documents_etag(self, read_side):
        order = read_side.place()
        read_side.project()
        status, body, headers = read_side.get(f"/orders/{order['order_id']}")
        assert status == 200
        assert body == order
        assert headers["ETag"] == etag_of(order)

    def test_if_none_match_with_the_current_etag_answers_304(self, read_side):
        order = read_side.place()
        read_side.project()
        etag = etag_of(order)
        status, body, headers = read_side.get(f"/orders/{order['order_id']}", headers={"if-none-match": etag})
        assert (status, body, headers["ETag"]) == (304, {}, etag)
        status, _, _ = read_side.get(f"/orders/{order['order_id']}", headers={"if-none-match": 'W/"0", "7"'})
        assert status == 200

    def test_an_erasure_changes_the_etag_though_it_adds_no_version(self, read_side):
        order = read_side.place()
        read_side.project()
        path = f"/orders/{order['order_id']}"
        _, before, headers = read_side.get(path)
        # WHEN the customer's key is destroyed: crypto-shredding records nothing on the order itself
        read_side.query.orders.vault.erase("customer-alice")
        status, after, revalidated = read_side.get(path, headers={"if-none-match": headers["ETag"]})
        # THEN a client revalidating its copy gets the erased document, not a 304
        assert (status, after["version"]) == (200, before["version"])
        assert after != before
        assert revalidated["ETag"] == etag_of(after) != headers["ETag"]

    def test_another_customers_order_is_not_found(self, read_side):
        order = read_side.place(customer="customer-bob")
        read_side.project()
        for query in (None, {"consistent": "true"}, {"version": "1"}, {"asOf": "2099-01-01T00:00:00Z"}):
            status, body, _ = read_side.get(f"/orders/{order['order_id']}", query=query)
            assert (status, body["message"]) == (404, f"Order {order['order_id']} not found."), query

    @pytest.mark.parametrize("order_id", ["5b0c1e2a-7d4f-4c3b-9a8e-2f6d1c0b9a87", "not-a-uuid"])
    def test_an_unknown_or_malformed_id_is_not_found(self, read_side, order_id):
        assert read_side.get(f"/orders/{order_id}")[0] == 404

    def test_consistent_reads_the_log_before_the_projector_caught_up(self, read_side):
        order = read_side.place()
        read_side.project()
        cancelled = read_side.cancel(order["order_id"])
        # The view still says version 1 ...
        assert read_side.get(f"/orders/{order['order_id']}")[1]["status"] == "pending_payment"
        # ... the log already says 2.
        status, body, headers = read_side.get(f"/orders/{order['order_id']}", query={"consistent": "true"})
        assert (status, body, headers["ETag"]) == (200, cancelled, etag_of(cancelled))

    def test_time_travel_to_a_version(self, read_side):
        order = read_side.place()
        read_side.cancel(order["order_id"])
        status, body, headers = read_side.get(f"/orders/{order['order_id']}", query={"version": "1"})
        assert (status, body, headers["ETag"]) == (200, order, etag_of(order))
        status, body, _ = read_side.get(f"/orders/{order['order_id']}", query={"version": "2"})
        assert (status, body["status"], body["version"]) == (200, "cancelled", 2)

    def test_a_version_the_order_has_not_reached_is_not_found(self, read_side):
        order = read_side.place()
        status, body, _ = read_side.get(f"/orders/{order['order_id']}", query={"version": "5"})
        assert status == 404
        assert body["message"] == f"Order {order['order_id']} has no version 5; its latest is 1."

    def test_time_travel_to_a_time(self, read_side):
        order = read_side.place()
        read_side.cancel(order["order_id"])
        placed, cancelled = recorded_times(read_side, order["order_id"])
        # At the moment of placing, and just before the cancellation: the order as placed.
        for moment in (placed, cancelled - timedelta(microseconds=1)):
            status, body, headers = read_side.get(f"/orders/{order['order_id']}", query={"asOf": iso(moment)})
            assert (status, body, headers["ETag"]) == (200, order, etag_of(order))
        # Any time zone names the same instant.
        as_cet = cancelled.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+01:00").tzinfo)
        status, body, _ = read_side.get(f"/orders/{order['order_id']}", query={"asOf": as_cet.isoformat()})
        assert (status, body["status"]) == (200, "cancelled")
        # Before it was placed, it did not exist.
        status, _, _ = read_side.get(
            f"/orders/{order['order_id']}", query={"asOf": iso(placed - timedelta(seconds=1))}
        )
        assert status == 404

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"version": "0"}, "version"),
            ({"version": "two"}, "version"),
            ({"version": "-1"}, "version"),
            ({"asOf": "yesterday"}, "asOf"),
            ({"asOf": "2026-11-26T10:00:00"}, "asOf"),
            ({"consistent": "maybe"}, "consistent"),
        ],
    )
    def test_a_bad_query_parameter_is_a_400_naming_it(self, read_side, query, field):
        order = read_side.place()
        status, body, _ = read_side.get(f"/orders/{order['order_id']}", query=query)
        assert (status, field_of(body)) == (400, [field])


class TestGetOrderEvents:
    def test_the_audit_trail_lists_every_event_with_its_metadata(self, read_side):
        order = read_side.place()
        read_side.cancel(order["order_id"])
        status, body, _ = read_side.get(f"/orders/{order['order_id']}/events")
        assert status == 200
        assert body["next_cursor"] is None
        assert [(e["version"], e["type"], e["schema_version"]) for e in body["events"]] == [
            (1, "OrderCreated", 4),
            (2, "OrderCancelled", 1),
        ]
        first = body["events"][0]
        assert first["data"]["total"] == order["total"]
        assert first["correlation_id"]
        assert set(first) == {"version", "event_id", "type", "schema_version", "recorded_at", "data"} | {
            "correlation_id",
            "causation_id",
        }

    def test_pages_follow_the_cursor_to_the_end(self, read_side):
        order = read_side.place()
        read_side.cancel(order["order_id"])
        read_side.cancel(order["order_id"])  # idempotent: no third event
        _, first, _ = read_side.get(f"/orders/{order['order_id']}/events", query={"limit": "1"})
        assert [e["version"] for e in first["events"]] == [1]
        _, second, _ = read_side.get(
            f"/orders/{order['order_id']}/events", query={"limit": "1", "cursor": first["next_cursor"]}
        )
        assert [e["version"] for e in second["events"]] == [2]
        assert second["next_cursor"] is None

    def test_pages_split_a_multi_event_commit_correctly(self, read_side):
        order_id = str(uuid.uuid4())
        for commit in commits_for(order_id, lifecycle(order_id, steps=3), per_commit=3):
            read_side.store.append(commit)
        versions, cursor = [], None
        while True:
            query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            status, body, _ = read_side.get(f"/orders/{order_id}/events", query=query)
            assert status == 200
            versions += [e["version"] for e in body["events"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert versions == [1, 2, 3]

    def test_another_customers_order_is_not_found_even_with_a_cursor(self, read_side):
        order = read_side.place(customer="customer-bob")
        read_side.cancel(order["order_id"], customer="customer-bob")
        _, page, _ = read_side.get(
            f"/orders/{order['order_id']}/events", customer="customer-bob", query={"limit": "1"}
        )
        for query in (None, {"cursor": page["next_cursor"]}):
            status, _, _ = read_side.get(f"/orders/{order['order_id']}/events", query=query)
            assert status == 404

    @pytest.mark.parametrize("limit", ["0", "101", "ten", ""])
    def test_a_bad_page_size_is_a_400_naming_limit(self, read_side, limit):
        order = read_side.place()
        status, body, _ = read_side.get(f"/orders/{order['order_id']}/events", query={"limit": limit})
        assert (status, field_of(body)) == (400, ["limit"])

    def test_a_cursor_of_another_order_or_a_tampered_one_is_a_400(self, read_side):
        order, other = read_side.place(), read_side.place()
        foreign = encode_cursor("events", {"order_id": other["order_id"], "after": 1, "from": 0})
        tampered = encode_cursor("events", {"order_id": order["order_id"], "after": 1, "from": 5})
        for cursor in (foreign, tampered, "%%%", encode_cursor("orders", {"after": 1})):
            status, body, _ = read_side.get(f"/orders/{order['order_id']}/events", query={"cursor": cursor})
            assert (status, field_of(body)) == (400, ["cursor"]), cursor


class TestListOrders:
    def test_lists_only_the_callers_orders_newest_first(self, read_side):
        alices = [read_side.place("customer-alice") for _ in range(3)]
        read_side.place("customer-bob")
        read_side.cancel(alices[0]["order_id"])
        read_side.project()
        status, body, _ = read_side.get("/orders")
        assert status == 200
        assert [o["order_id"] for o in body["orders"]] == [o["order_id"] for o in reversed(alices)]
        assert body["next_cursor"] is None
        oldest = body["orders"][-1]
        assert oldest == {
            "order_id": alices[0]["order_id"],
            "status": "cancelled",
            "currency": "EUR",
            "total": alices[0]["total"],
            "placed_at": alices[0]["placed_at"],
            "updated_at": oldest["updated_at"],
            "version": 2,
        }

    def test_pages_follow_the_cursor_to_the_end(self, read_side):
        placed = [read_side.place() for _ in range(5)]
        read_side.project()
        seen, cursor, pages = [], None, 0
        while True:
            _, body, _ = read_side.get(
                "/orders", query={"limit": "2", **({"cursor": cursor} if cursor else {})}
            )
            pages += 1
            seen += [o["order_id"] for o in body["orders"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == [o["order_id"] for o in reversed(placed)]

    def test_a_customer_without_orders_gets_an_empty_list(self, read_side):
        assert read_side.get("/orders", customer="customer-new")[:2] == (
            200,
            {"orders": [], "next_cursor": None},
        )

    @pytest.mark.parametrize("limit", ["0", "101", "-3", "1.5", "x"])
    def test_a_bad_page_size_is_a_400_naming_limit(self, read_side, limit):
        status, body, _ = read_side.get("/orders", query={"limit": limit})
        assert (status, field_of(body)) == (400, ["limit"])
        assert "1 to 100" in body["errors"][0]["problem"]

    def test_another_customers_cursor_is_a_400(self, read_side):
        for _ in range(2):
            read_side.place("customer-bob")
        read_side.project()
        _, bobs_page, _ = read_side.get("/orders", customer="customer-bob", query={"limit": "1"})
        status, body, _ = read_side.get(
            "/orders", customer="customer-alice", query={"cursor": bobs_page["next_cursor"]}
        )
        assert (status, field_of(body)) == (400, ["cursor"])

    def test_a_tampered_cursor_is_a_400(self, read_side):
        for _ in range(2):
            read_side.place()
        read_side.project()
        _, page, _ = read_side.get("/orders", query={"limit": "1"})
        decoded = json.loads(base64.urlsafe_b64decode(page["next_cursor"] + "=="))
        decoded["p"]["extra"] = "x"
        extra = base64.urlsafe_b64encode(json.dumps(decoded).encode()).decode()
        for cursor in (
            page["next_cursor"][:-4],
            extra,
            "not-a-cursor",
            encode_cursor("events", {"after": 1}),
        ):
            status, body, _ = read_side.get("/orders", query={"cursor": cursor})
            assert (status, field_of(body)) == (400, ["cursor"]), cursor

    def test_without_a_token_every_route_is_refused(self, read_side):
        for path in ("/orders", f"/orders/{uuid.uuid4()}", f"/orders/{uuid.uuid4()}/events"):
            assert read_side.get(path, customer=None)[0] == 401


class TestSampleEvents:
    @pytest.fixture
    def sample_order(self, read_side) -> str:
        """The order the api_get_* samples ask for: alice's, created, confirmed and shipped."""
        order_id = sample_event("api_get_order.json")["pathParameters"]["order_id"]
        for commit in commits_for(order_id, lifecycle(order_id, steps=3)):
            read_side.store.append(commit)
        read_side.project()
        return order_id

    @pytest.mark.parametrize(
        ("name", "status", "check"),
        [
            ("api_get_order.json", 200, lambda body: body["status"] == "shipped" and body["version"] == 3),
            ("api_get_order_if_none_match.json", 304, lambda body: body == {}),
            ("api_get_order_consistent.json", 200, lambda body: body["version"] == 3),
            ("api_get_order_as_of_version.json", 200, lambda body: body["status"] == "confirmed"),
            ("api_get_order_as_of_time.json", 200, lambda body: body["version"] == 1),
            ("api_get_order_events.json", 200, lambda body: len(body["events"]) == 2 and body["next_cursor"]),
            ("api_list_orders.json", 200, lambda body: len(body["orders"]) == 1),
            ("api_list_orders_bad_limit.json", 400, lambda body: body["errors"][0]["field"] == "limit"),
        ],
    )
    def test_each_query_sample(self, read_side, sample_order, name, status, check):
        response = read_side.query.lambda_handler(sample_event(name), read_side.context)
        body = json.loads(response["body"]) if response.get("body") else {}
        assert response["statusCode"] == status
        assert check(body), body
