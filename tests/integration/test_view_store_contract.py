"""The view store contract, run against every implementation: in memory and DynamoDB (moto, the OrdersView
table of template.yaml). Conditional writes are what make a projector and a rebuild safe side by side."""

from __future__ import annotations

import pytest

from eventcore.read.view_store import (
    DynamoDBViewStore,
    InMemoryViewStore,
    ViewConflictError,
    ViewIndex,
    ViewRow,
)
from tests.support.aws import create_table

BY_CUSTOMER = ViewIndex("by-customer", partition="customer_id", sort="placed_at")


@pytest.fixture(params=["in-memory", "dynamodb"])
def views(request):
    if request.param == "in-memory":
        return InMemoryViewStore(key_attribute="order_id")
    dynamodb = request.getfixturevalue("dynamodb")
    return DynamoDBViewStore(
        create_table(dynamodb, "OrdersView", "orders-view"), dynamodb, key_attribute="order_id"
    )


def row(
    version: int, customer: str = "alice", placed_at: str = "2026-11-26T10:00:00.000000Z", **extra
) -> ViewRow:
    return ViewRow({"customer_id": customer, "placed_at": placed_at, "status": "s", **extra}, version)


class TestConditionalPut:
    def test_a_row_is_created_only_where_none_exists(self, views):
        views.put("o-1", row(1), expected_version=0)
        with pytest.raises(ViewConflictError) as raised:
            views.put("o-1", row(1, status="other"), expected_version=0)
        # THEN the loser is handed the stored row, so its retry needs no read
        assert raised.value.current == views.get_many(["o-1"])["o-1"]
        assert raised.value.current.view["status"] == "s"

    def test_a_row_is_replaced_only_from_the_version_it_was_read_at(self, views):
        views.put("o-1", row(1), expected_version=0)
        views.put("o-1", row(3), expected_version=1)
        with pytest.raises(ViewConflictError) as raised:
            views.put("o-1", row(2, status="stale"), expected_version=1)
        assert raised.value.current is not None
        assert raised.value.current.version == 3
        assert views.get_many(["o-1"])["o-1"].version == 3

    def test_expecting_a_row_that_does_not_exist_is_a_conflict(self, views):
        with pytest.raises(ViewConflictError) as raised:
            views.put("o-1", row(2), expected_version=1)
        assert raised.value.current is None
        assert views.get_many(["o-1"]) == {}


class TestPutIfNewer:
    def test_only_absent_or_older_rows_are_written(self, views):
        views.put("o-1", row(5), expected_version=0)
        views.put("o-2", row(1), expected_version=0)
        written = views.put_if_newer({"o-1": row(4, status="old"), "o-2": row(2), "o-3": row(1)})
        assert written == 2
        rows = views.get_many(["o-1", "o-2", "o-3"])
        assert {key: r.version for key, r in rows.items()} == {"o-1": 5, "o-2": 2, "o-3": 1}
        assert rows["o-1"].view["status"] == "s"


class TestReads:
    def test_get_and_get_many_give_the_stored_rows(self, views):
        views.put("o-1", row(2, total=1250), expected_version=0)
        assert views.get("o-1") == views.get_many(["o-1", "o-1", "o-9"])["o-1"]
        assert views.get("o-1").view["total"] == 1250
        assert views.get("o-9") is None

    def test_an_index_pages_newest_first_within_one_partition(self, views):
        for i in range(5):
            views.put(f"o-{i}", row(1, placed_at=f"2026-11-26T10:00:0{i}.000000Z"), expected_version=0)
        views.put("x-1", row(1, customer="bob", placed_at="2026-11-27T00:00:00.000000Z"), expected_version=0)
        seen, after = [], None
        for _ in range(5):
            page = views.page(BY_CUSTOMER, "alice", limit=2, after=after)
            seen.extend(document["order_id"] for document in page.documents)
            assert all(document["version"] == 1 for document in page.documents)
            after = page.next_position
            if after is None:
                break
        assert seen == ["o-4", "o-3", "o-2", "o-1", "o-0"]

    def test_the_last_full_page_has_no_next_position(self, views):
        for i in range(2):
            views.put(f"o-{i}", row(1, placed_at=f"2026-11-26T10:00:0{i}.000000Z"), expected_version=0)
        assert views.page(BY_CUSTOMER, "alice", limit=2).next_position is None
        assert views.page(BY_CUSTOMER, "nobody", limit=2).documents == []
