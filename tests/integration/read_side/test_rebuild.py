"""Rebuilding OrdersView from the log on moto: the rebuilt table equals the stream-fed one, fresh or in
place; an in-place rebuild never moves a row behind what the projector wrote meanwhile; the scan reads only
what a replay needs, rows are written while it goes on, and a stream it returns in pieces is caught up from
the log instead of replayed from a piece."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from typing import Any

import pytest

from eventcore.read.generations.replay import NotEmptyError, rebuild
from eventcore.read.view_store import DynamoDBViewStore, ViewRow
from ops.replay import main
from orders.read_model import order_projection
from tests.support.aws import create_table
from tests.support.polling import wait_until
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

        class ProjectorRunsMeanwhile(DynamoDBViewStore):
            """The projector wins the race: after the rebuild has replayed the log, before its first write,
            the orders are cancelled and projected. Every write waits for that."""

            lock, done = threading.Lock(), False

            def put_if_newer(self, rows: Any) -> int:
                with self.lock:
                    if not self.done:
                        for order in orders:
                            read_side.cancel(order["order_id"])
                        read_side.project()
                        type(self).done = True
                return super().put_if_newer(rows)

        # WHEN the rebuild writes its (older) rows in place
        report = rebuild(
            order_projection,
            read_side.dynamodb,
            read_side.log_table,
            ProjectorRunsMeanwhile(read_side.view_table, read_side.dynamodb, key_attribute="order_id"),
            progress=lambda _: None,
        )
        # THEN every row is still the projector's newer one, equal to a replay of the log
        assert report.rows_written == 0
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
                "orders.read_model:order_projection",
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


class TestTheScan:
    def test_it_leaves_snapshots_and_command_ids_in_the_table(self, read_side):
        # GIVEN an order whose last commit carries a snapshot (as the runner writes every N events)
        order_id = str(uuid.uuid4())
        commits = commits_for(order_id, lifecycle(order_id, steps=3))
        commits[-1] = replace(commits[-1], snapshot={"big": "x" * 20_000})
        for commit in commits:
            read_side.store.append(commit)
        returned: list[set[str]] = []
        requested: list[str] = []

        def seen(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
            if model.name == "Scan":
                returned.extend(set(item) for item in parsed.get("Items", []))

        def asked(params: dict[str, Any], model: Any, **_: Any) -> None:
            if model.name == "Scan" and params["TableName"] == read_side.log_table:
                requested.append(params["ProjectionExpression"])

        read_side.dynamodb.meta.events.register("after-call.dynamodb.Scan", seen)
        read_side.dynamodb.meta.events.register("provide-client-params.dynamodb.Scan", asked)
        try:
            rebuilt = create_table(read_side.dynamodb, "OrdersView", "orders-view-projected")
            rebuild(
                order_projection,
                read_side.dynamodb,
                read_side.log_table,
                views(read_side, rebuilt),
                segments=2,
                fresh=True,
                progress=lambda _: None,
            )
        finally:
            read_side.dynamodb.meta.events.unregister("after-call.dynamodb.Scan", seen)
            read_side.dynamodb.meta.events.unregister("provide-client-params.dynamodb.Scan", asked)
        # THEN each scan asked for the replay's attributes only, and that is all that came back
        assert len(requested) == 2
        assert all("snapshot" not in expression for expression in requested)
        replay_attributes = {"stream", "version", "events", "correlation_id", "causation_id"}
        assert returned
        assert all(attributes <= replay_attributes for attributes in returned)
        assert read_side.view_rows(rebuilt)[order_id] == read_side.replayed(order_id)

    def test_rows_are_written_while_the_scan_goes_on(self, read_side):
        # GIVEN four orders in the log, and a scan that hands them over two streams a page
        ids = populate(read_side, orders=4)[:4]
        rebuilt = create_table(read_side.dynamodb, "OrdersView", "orders-view-pipelined")
        client = PagedClient(read_side.dynamodb, page_size=2 * 2)  # two orders of two commits at most

        def rows_written() -> int:
            return len(read_side.view_rows(rebuilt))

        # before each next page, the streams the scan has passed are written (a poll with a deadline)
        client.before_next_page = lambda passed: wait_until(lambda: rows_written() >= passed, timeout=10)
        report = rebuild(
            order_projection,
            client,
            read_side.log_table,
            DynamoDBViewStore(rebuilt, read_side.dynamodb, key_attribute="order_id"),
            segments=1,
            fresh=False,
            progress=lambda _: None,
        )
        assert client.pages >= 3
        assert report.rows == len(read_side.view_rows(rebuilt)) >= len(ids)

    def test_a_stream_returned_in_pieces_is_caught_up_from_the_log(self, read_side):
        ids = populate(read_side, orders=2)
        rebuilt = create_table(read_side.dynamodb, "OrdersView", "orders-view-pieces")
        # GIVEN a scan that returns one stream's first commit after every other stream's commits
        client = PagedClient(read_side.dynamodb, page_size=1000, split=True)
        report = rebuild(
            order_projection,
            client,
            read_side.log_table,
            views(read_side, rebuilt),
            segments=1,
            fresh=True,
            progress=lambda _: None,
        )
        assert report.revisited_streams == 1
        assert report.failed_streams == 0
        split = client.split_stream.removeprefix("Order-")
        rows = read_side.view_rows(rebuilt)
        assert rows[split] == read_side.replayed(split)
        assert set(rows) == set(ids)


class PagedClient:
    """A DynamoDB client whose scans come back in pages of `page_size` items, calling `before_next_page(n)`
    with the number of streams the scan has passed before each next page; with `split`, the first commit of
    the first stream of several commits is moved to the end, as if the stream came back apart."""

    def __init__(self, client: Any, *, page_size: int, split: bool = False) -> None:
        self._client = client
        self._page_size = page_size
        self._split = split
        self.split_stream = ""
        self.pages = 0
        self.before_next_page = lambda passed: None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_paginator(self, operation: str) -> Any:
        real = self._client.get_paginator(operation)
        if operation != "scan":
            return real
        outer = self

        class Paginator:
            def paginate(self, **request: Any) -> Any:
                items = [item for page in real.paginate(**request) for item in page.get("Items", [])]
                if outer._split:
                    streams = [item["stream"]["S"] for item in items]
                    first = next(i for i, stream in enumerate(streams) if streams.count(stream) > 1)
                    outer.split_stream = streams[first]
                    items.append(items.pop(first))
                for start in range(0, len(items), outer._page_size):
                    if start:
                        passed = len({item["stream"]["S"] for item in items[:start]}) - 1
                        outer.before_next_page(passed)
                    outer.pages += 1
                    yield {"Items": items[start : start + outer._page_size]}

        return Paginator()
