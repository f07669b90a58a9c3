"""Hostile input to the orders query API: whatever a caller puts in the query string, the path, a cursor or
If-None-Match, the answer is a 4xx naming what is wrong (or the ordinary answer), never a 5xx."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from eventcore.read.cursors import encode_cursor
from tests.integration.read_side.conftest import ReadSide, read_side_in
from tests.support.aws import moto_account
from tests.support.lambdas import LambdaContext


@pytest.fixture(scope="module")
def read_side() -> Iterator[ReadSide]:
    """One read side for the module (each function loaded once): every test places its own order, and none
    reads more than that order or the caller's first page."""
    with moto_account() as monkeypatch:
        yield read_side_in(monkeypatch, LambdaContext())


def field_of(body: dict) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


def raw_cursor(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


# Characters str.isdigit() accepts but int() does not (superscripts), and digits int() reads but that are not
# ASCII (Arabic-Indic, fullwidth): none of them is a number this API accepts.
NOT_ASCII_DIGITS = ["²", "1²", "¹²³", "\u0661", "\uff11\uff10", "12\n", " 12", "+5", "1_0"]


class TestNumbersAreAsciiDigitsOnly:
    @pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
    def test_list_limit(self, read_side, text):
        status, body, _ = read_side.get("/orders", query={"limit": text})
        assert (status, field_of(body)) == (400, ["limit"])

    @pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
    def test_order_version(self, read_side, text):
        order = read_side.place()
        status, body, _ = read_side.get(f"/orders/{order['order_id']}", query={"version": text})
        assert (status, field_of(body)) == (400, ["version"])

    @pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
    def test_events_limit(self, read_side, text):
        order = read_side.place()
        status, body, _ = read_side.get(f"/orders/{order['order_id']}/events", query={"limit": text})
        assert (status, field_of(body)) == (400, ["limit"])

    def test_plain_digits_still_work(self, read_side):
        order = read_side.place()
        assert read_side.get(f"/orders/{order['order_id']}", query={"version": "1"})[0] == 200
        assert read_side.get("/orders", query={"limit": "007"})[0] == 200


class TestOrderIds:
    @pytest.mark.parametrize(
        "suffix",
        ["", "/events"],
    )
    def test_a_non_canonical_or_oversized_uuid_is_not_found(self, read_side, suffix):
        order = read_side.place()
        read_side.project()
        plain = order["order_id"].replace("-", "")
        digit = next(character for character in order["order_id"] if character.isdigit())
        fullwidth = order["order_id"].replace(digit, chr(ord(digit) + 0xFEE0))  # "1" -> "\uff11"
        for order_id in (
            "urn:" * 600 + "uuid:" + plain,  # uuid.UUID() accepts it; DynamoDB refuses a 2 KiB key
            "{" + order["order_id"] + "}",
            plain,
            fullwidth,
        ):
            for query in (None, {"consistent": "true"}, {"version": "1"}):
                if suffix and query:
                    continue
                status, _, _ = read_side.get(f"/orders/{order_id}{suffix}", query=query)
                assert status == 404, (order_id[:40], query)


class TestCursors:
    @pytest.mark.parametrize(
        "position",
        [
            {"after": True, "from": False},
            {"after": 10**40, "from": 10**39},
            {"after": 2, "from": 1.0},
        ],
    )
    def test_an_events_cursor_with_values_no_listing_hands_out_is_a_400(self, read_side, position):
        order = read_side.place()
        cursor = encode_cursor("events", {"order_id": order["order_id"], **position})
        status, body, _ = read_side.get(f"/orders/{order['order_id']}/events", query={"cursor": cursor})
        assert (status, field_of(body)) == (400, ["cursor"])

    @pytest.mark.parametrize(
        "cursor",
        [
            raw_cursor([]),
            raw_cursor({"k": "events", "p": []}),
            raw_cursor({"k": ["events"], "p": {}}),
            raw_cursor({"k": "events"}),
            "[" * 700,
            base64.urlsafe_b64encode(b"[" * 760).decode(),  # deeply nested JSON
            base64.urlsafe_b64encode(b"\xff\xfe").decode(),
            "é" * 8,
            "x" * 5000,
        ],
    )
    def test_a_malformed_cursor_is_a_400_on_both_listings(self, read_side, cursor):
        order = read_side.place()
        status, body, _ = read_side.get(f"/orders/{order['order_id']}/events", query={"cursor": cursor})
        assert (status, field_of(body)) == (400, ["cursor"])
        status, body, _ = read_side.get("/orders", query={"cursor": cursor})
        assert (status, field_of(body)) == (400, ["cursor"])

    @pytest.mark.parametrize(
        "change",
        [
            {"order_id": "urn:uuid:" + "0" * 32},
            {"order_id": "{00000000-0000-0000-0000-000000000000}"},
            {"placed_at": 5},
            {"placed_at": "not a time"},
            {"extra": "x"},
        ],
    )
    def test_a_list_cursor_with_values_no_listing_hands_out_is_a_400(self, read_side, change):
        position = {
            "customer_id": "customer-alice",
            "placed_at": "2026-11-26T10:15:00.000000Z",
            "order_id": "00000000-0000-0000-0000-000000000000",
            **change,
        }
        status, body, _ = read_side.get("/orders", query={"cursor": encode_cursor("orders", position)})
        assert (status, field_of(body)) == (400, ["cursor"])


class TestTimesAndHeaders:
    @pytest.mark.parametrize(
        "text",
        [
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "\uff12\uff10\uff12\uff16-11-26T10:00:00Z",
            "2026-11-26T10:00:00+24:00",
            "2026-13-01T00:00:00Z",
            "\x00",
            "",
        ],
    )
    def test_an_odd_as_of_is_a_400_or_an_answer_never_a_5xx(self, read_side, text):
        order = read_side.place()
        status, body, _ = read_side.get(f"/orders/{order['order_id']}", query={"asOf": text})
        assert status in (200, 400, 404), (status, body)
        if status == 400:
            assert field_of(body) == ["asOf"]

    @pytest.mark.parametrize(
        "value", ["", ",", "*", 'W/""', "W/", '"' * 3000, "\u00e9\u00e9", ", , ,", '"1", W/"1"']
    )
    def test_any_if_none_match_is_answered(self, read_side, value):
        order = read_side.place()
        read_side.project()
        status, _, _ = read_side.get(f"/orders/{order['order_id']}", headers={"if-none-match": value})
        assert status in (200, 304)
