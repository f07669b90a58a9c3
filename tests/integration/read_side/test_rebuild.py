"""Rebuilding OrdersView from the log on moto: the rebuilt table equals the stream-fed one, fresh or in
place, and an in-place rebuild never moves a row behind what the projector wrote meanwhile."""

from __future__ import annotations

import uuid

import pytest

from microsystem.rebuild import NotEmptyError, main, rebuild
from microsystem.viewstore import DynamoDBViewStore, ViewRow
from orders.projection import order_projection
from tests.support.aws import create_table
from tests.support.lambdas import load_function, sample_event
from tests.support.read_side import commits_for, lifecycle


def populate(read_side, orders: int = 6) -> list[str]:
    """Orders through the API (some cancelled) and straight into the log (multi-event commits)."""
    ids = []
    for i in range(orders):
        order = read_side.place(customer=f"customer-{i % 3}")
        if i % 2:
            read_side.cancel(order["order_id"], customer=f"customer-{i % 3}")
        ids.append(order["order_id"])
    for steps in (3, -2):
        order_id = str(uuid.uuid4())
        for commit in commits_for(order_id, lifecycle(order_id, steps=steps), per_commit=2):
            read_side.store.append(commit)
        ids.append(order_id)
    return ids


def views(read_side, table: str) -> DynamoDBViewStore:
    return DynamoDBViewStore(table, read_side.dynamodb, key_attribute="order_id")


class TestRebuild:
    @pytest.mark.parametrize("fresh", [True, False])
    def test_the_rebuilt_table_equals_the_stream_fed_one(self, read_side, fresh):
        ids = populate(read_side)
        read_side.project(batch_size=3)
        stream_fed = read_side.view_rows()
        assert set(stream_fed) == set(ids)
        rebuilt = create_table(read_side.dynamodb, "OrdersView", f"orders-view-rebuilt-{fresh}")
        report = rebuild(
            order_projection,
            read_side.dynamodb,
            read_side.log_table,
            views(read_side, rebuilt),
            segments=3,
            fresh=fresh,
            progress=lambda _: None,
        )
        assert read_side.view_rows(rebuilt) == stream_fed
        assert (report.rows, report.rows_written) == (len(ids), len(ids))
        assert report.events == sum(row["version"] for row in stream_fed.values())

    def test_in_place_it_repairs_stale_and_missing_rows_and_leaves_newer_ones(self, read_side):
        ids = populate(read_side, orders=4)
        read_side.project()
        store = views(read_side, read_side.view_table)
        expected = read_side.view_rows()
        # GIVEN a row gone, a row left behind at version 1, and a row ahead of the log (as if written later)
        read_side.dynamodb.delete_item(TableName=read_side.view_table, Key={"order_id": {"S": ids[0]}})
        behind = order_projection.replay(list(read_side.store.read(f"Order-{ids[1]}"))[:1])
        read_side.dynamodb.put_item(TableName=read_side.view_table, Item=store.item(ids[1], behind))
        ahead = ViewRow({**expected[ids[2]], "status": "shipped"}, 99)
        ahead.view.pop("version")
        read_side.dynamodb.put_item(TableName=read_side.view_table, Item=store.item(ids[2], ahead))
        # WHEN rebuilt in place
        report = rebuild(
            order_projection, read_side.dynamodb, read_side.log_table, store, progress=lambda _: None
        )
        # THEN the missing and stale rows are back to the replay; the newer one was not touched
        rows = read_side.view_rows()
        assert rows[ids[0]] == expected[ids[0]]
        assert rows[ids[1]] == expected[ids[1]]
        assert rows[ids[2]]["version"] == 99
        assert report.rows_written == 2

    def test_a_rebuild_racing_the_projector_never_moves_a_row_back(self, read_side):
        # GIVEN orders projected at version 1
        orders = [read_side.place() for _ in range(3)]
        read_side.project()

        def projector_runs_meanwhile(message: str) -> None:
            # After the rebuild has read the log, before it writes: the orders are cancelled and projected.
            if message.startswith("replayed"):
                for order in orders:
                    read_side.cancel(order["order_id"])
                read_side.project()

        # WHEN the rebuild writes its (older) rows in place
        rebuild(
            order_projection,
            read_side.dynamodb,
            read_side.log_table,
            views(read_side, read_side.view_table),
            progress=projector_runs_meanwhile,
        )
        # THEN every row is still the projector's newer one, equal to a replay of the log
        rows = read_side.view_rows()
        for order in orders:
            assert rows[order["order_id"]]["status"] == "cancelled"
            assert rows[order["order_id"]] == read_side.replayed(order["order_id"])

    def test_fresh_refuses_a_table_that_has_rows(self, read_side):
        read_side.place()
        read_side.project()
        with pytest.raises(NotEmptyError):
            rebuild(
                order_projection,
                read_side.dynamodb,
                read_side.log_table,
                views(read_side, read_side.view_table),
                fresh=True,
            )

    def test_the_command_prints_progress(self, read_side, capsys):
        populate(read_side, orders=2)
        report = main(
            [
                "--projection",
                "orders.projection:order_projection",
                "--log-table",
                read_side.log_table,
                "--view-table",
                read_side.view_table,
                "--segments",
                "2",
            ]
        )
        out = capsys.readouterr().out
        assert "segment 1/2" in out
        assert "segment 2/2" in out
        assert "rebuild done" in out
        assert report.rows == 4
        assert len(read_side.view_rows()) == 4

    def test_the_function_rebuilds_in_place(self, read_side, monkeypatch):
        ids = populate(read_side, orders=2)
        monkeypatch.setenv("EVENT_LOG_TABLE", read_side.log_table)
        monkeypatch.setenv("VIEW_TABLE", read_side.view_table)
        function = load_function("rebuild_view")
        report = function.lambda_handler(sample_event("rebuild_view_in_place.json"), read_side.context)
        assert report["rows_written"] == len(ids)
        with pytest.raises(ValueError, match="segments"):
            function.lambda_handler({"segments": 0}, read_side.context)
