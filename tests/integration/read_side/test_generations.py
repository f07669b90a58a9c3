"""Blue/green generations of OrdersView on moto, through the real projector and query handlers: a new
generation built with changed logic while orders keep coming is level with the log when it is ready, the
queries read the old one until the switch, the switch goes both ways, and a drop stops the feeding."""

from __future__ import annotations

from typing import Any

import pytest

from eventcore.read.generations.bluegreen import ViewGenerations, build, drop, status, switch
from eventcore.read.generations.lifecycle import GenerationError
from eventcore.read.generations.projector import FAILURE_KEY
from eventcore.read.view_store import DynamoDBViewStore, ViewRow
from orders.read_model import order_projection
from tests.support.lambdas import load_function, sample_event
from tests.support.projections import BROKEN, order_projection_with_units
from tests.support.projections import NAME as WITH_UNITS
from tests.support.read_side import ddb_event

CURRENT = "orders.read_model:order_projection"


def generations_of(read_side) -> ViewGenerations:
    def store(table: str) -> DynamoDBViewStore:
        return DynamoDBViewStore(table, read_side.dynamodb, key_attribute="order_id")

    return ViewGenerations(
        "OrdersView",
        order_projection,
        read_side.dynamodb,
        read_side.store,
        {"blue": store(read_side.view_table), "green": store(read_side.green_table)},
        read_side.registry,
    )


def replayed(read_side, order_id: str, projection: Any) -> dict[str, Any]:
    row = projection.replay(read_side.store.read(f"Order-{order_id}"))
    return {**row.view, "order_id": order_id, "version": row.version}


class TestANewGeneration:
    def test_built_with_new_logic_while_orders_keep_coming_it_is_level_and_read_only_after_a_switch(
        self, read_side
    ):
        read_side.create_green()
        view = generations_of(read_side)
        # GIVEN orders placed and projected into the active (blue) generation
        orders = {read_side.place(customer="customer-a")["order_id"] for _ in range(3)}
        read_side.project_new()
        cancelled = sorted(orders)

        def queries_see_the_old_logic_only() -> None:
            for order_id in orders:
                code, body, _ = read_side.get(f"/orders/{order_id}", customer="customer-a")
                assert code == 200, body
                assert "units" not in body, "a query read the generation being built"
            code, body, _ = read_side.get("/orders", customer="customer-a", query={"limit": "100"})
            assert {o["order_id"] for o in body["orders"]} == orders

        def orders_keep_coming(message: str) -> None:
            # building: before the scan; scanned: after it, not fed yet (only the catch-up brings these);
            # fed: the projector brings these
            if message.startswith(("OrdersView: building", "rebuild done", "green is fed")):
                orders.add(read_side.place(customer="customer-a")["order_id"])
                read_side.cancel(cancelled.pop(), customer="customer-a")
                read_side.project_new()
                queries_see_the_old_logic_only()

        # WHEN a new generation is built with a projection that adds a field
        report = build(view, projection=WITH_UNITS, segments=2, settle=0, progress=orders_keep_coming)

        # THEN it is ready, and equal to a replay of the log with the new logic: every order, the ones placed
        # and cancelled meanwhile included; the active one still holds the old logic's documents
        assert report.ready
        # behind the backfill: what came after the scan, and after the feeding began; but only what came
        # before the feeding needed the catch-up's writes (the order placed, and the one cancelled)
        assert (report.caught_up_streams, report.caught_up_rows) == (4, 2)
        assert not cancelled
        green = read_side.view_rows(read_side.green_table)
        assert green == {o: replayed(read_side, o, order_projection_with_units) for o in orders}
        assert read_side.view_rows() == {o: replayed(read_side, o, order_projection) for o in orders}
        queries_see_the_old_logic_only()
        assert [(g.name, g.state) for g in status(view)] == [("blue", "active"), ("green", "ready")]

        # WHEN switched: the queries read the new generation; switched back and forth, each time
        switch(view)
        some = sorted(orders)[0]
        assert read_side.get(f"/orders/{some}", customer="customer-a")[1]["units"] == 3  # 2 teas, 1 mug
        listed = read_side.get("/orders", customer="customer-a", query={"limit": "100"})[1]["orders"]
        assert {o["order_id"] for o in listed} == orders
        switch(view)
        assert "units" not in read_side.get(f"/orders/{some}", customer="customer-a")[1]
        switch(view)

        # WHEN the previous generation is dropped, later orders reach the active one only
        dropped = drop(view, settle=0, progress=lambda _: None)
        assert (dropped.generation, dropped.was, dropped.rows_deleted) == ("blue", "standby", len(orders))
        later = read_side.place(customer="customer-a")["order_id"]
        read_side.project_new()
        assert read_side.view_rows() == {}
        assert read_side.view_rows(read_side.green_table)[later] == replayed(
            read_side, later, order_projection_with_units
        )

    def test_a_table_in_use_is_never_built_over_and_the_active_generation_never_dropped(self, read_side):
        read_side.create_green()
        view = generations_of(read_side)
        read_side.place()
        # GIVEN green's table holds rows no generation owns (a drop cut short)
        view.stores["green"].put("leftover", ViewRow({"status": "x"}, 1), expected_version=0)
        with pytest.raises(GenerationError, match="has rows: empty it first"):
            build(view, settle=0, progress=lambda _: None)
        with pytest.raises(GenerationError, match="switch to another one first"):
            drop(view, "blue", settle=0)
        # WHEN the table is emptied by a drop of that name, a build goes ahead
        assert drop(view, "green", settle=0, progress=lambda _: None).was == "free"
        assert build(view, settle=0, progress=lambda _: None).ready
        with pytest.raises(GenerationError, match="drop the one that is not active first"):
            build(view, settle=0, progress=lambda _: None)


class TestTheRebuildFunction:
    def test_it_runs_each_action_on_the_views_generations(self, read_side):
        read_side.create_green()
        order_id = read_side.place()["order_id"]
        read_side.project()
        function = load_function("view_rebuilder")  # the read side's environment names the log and the view
        function.settle = 0  # the test's projector reads the registry at every call

        built = function.lambda_handler({"action": "build", "projection": WITH_UNITS}, read_side.context)
        assert built["ready"]
        assert built["backfill"]["rows"] == 1
        switched = function.lambda_handler({"action": "switch"}, read_side.context)
        assert switched == {"previous": "blue", "active": "green"}
        states = {
            g["name"]: g["state"] for g in function.lambda_handler({"action": "status"}, read_side.context)
        }
        assert states == {"blue": "standby", "green": "active"}
        assert read_side.get(f"/orders/{order_id}")[1]["units"] == 3
        repaired = function.lambda_handler(sample_event("rebuild_view_in_place.json"), read_side.context)
        assert repaired["rows_written"] == 0, "green is level: nothing to repair"
        dropped = function.lambda_handler({"action": "drop"}, read_side.context)
        assert (dropped["generation"], dropped["rows_deleted"]) == ("blue", 1)
        with pytest.raises(ValueError, match="action must be one of"):
            function.lambda_handler({"action": "rebuild"}, read_side.context)
        with pytest.raises(ValueError, match="segments"):
            function.lambda_handler({"segments": 0}, read_side.context)


class TestAFailingCandidate:
    def test_a_candidate_that_raises_on_every_record_never_fails_a_live_one(self, read_side):
        read_side.create_green()
        view = generations_of(read_side)
        # GIVEN a candidate generation, fed, whose projection raises on every event
        registry = read_side.registry
        registry.write(registry.read().begin("green", BROKEN, at="2026-12-05T10:00:00Z"))
        registry.write(registry.read().catching_up("green", at="2026-12-05T10:00:01Z"))
        # WHEN orders flow, batch after batch, through the real projector function
        failures = []
        for _ in range(3):
            placed = [read_side.place(customer="customer-a")["order_id"] for _ in range(2)]
            read_side.cancel(placed[0], customer="customer-a")
            records = [
                r
                for r in read_side.log_records()
                if r["dynamodb"]["SequenceNumber"] not in read_side.delivered
            ]
            read_side.delivered.update(r["dynamodb"]["SequenceNumber"] for r in records)
            response = read_side.projector.lambda_handler(ddb_event(records), read_side.context)
            failures += response["batchItemFailures"]
        # THEN no live record failed, the live view equals a replay of the log, and the candidate is failed
        assert failures == []
        rows = read_side.view_rows()
        assert rows == {order_id: replayed(read_side, order_id, order_projection) for order_id in rows}
        assert len(rows) == 6
        green = next(g for g in status(view) if g.name == "green")
        assert green.failed is not None
        assert "cannot apply" in green.failed
        assert set(read_side.view_rows(read_side.green_table)) <= {FAILURE_KEY}
        # ... and even marked ready by a rebuild that knew no better, it is refused to the queries
        registry.write(registry.read().ready("green", at="2026-12-05T10:00:02Z", rows=0))
        with pytest.raises(GenerationError, match="failed"):
            switch(view, "green")
        assert registry.read().active.name == "blue"

    def test_a_candidate_whose_table_is_missing_never_fails_a_live_one_and_is_caught_up_once_it_is_there(
        self, read_side
    ):
        # GIVEN a candidate generation, fed, whose table does not exist (ResourceNotFoundException)
        registry = read_side.registry
        registry.write(registry.read().begin("green", WITH_UNITS, at="2026-12-05T10:00:00Z"))
        registry.write(registry.read().catching_up("green", at="2026-12-05T10:00:01Z"))
        placed = [read_side.place(customer="customer-a")["order_id"] for _ in range(2)]
        # WHEN the batch goes through the real projector function
        records = [
            r for r in read_side.log_records() if r["dynamodb"]["SequenceNumber"] not in read_side.delivered
        ]
        read_side.delivered.update(r["dynamodb"]["SequenceNumber"] for r in records)
        response = read_side.projector.lambda_handler(ddb_event(records), read_side.context)
        # THEN no record failed and the live view has them
        assert response["batchItemFailures"] == []
        assert set(read_side.view_rows()) == set(placed)
        # AND once the table is there, the container catches the candidate up on what it missed
        read_side.create_green()
        later = read_side.place(customer="customer-a")["order_id"]
        records = [
            r for r in read_side.log_records() if r["dynamodb"]["SequenceNumber"] not in read_side.delivered
        ]
        response = read_side.projector.lambda_handler(ddb_event(records), read_side.context)
        assert response["batchItemFailures"] == []
        green = read_side.view_rows(read_side.green_table)
        assert green == {
            order_id: replayed(read_side, order_id, order_projection_with_units)
            for order_id in [*placed, later]
        }

    def test_a_generation_switched_to_within_the_cache_age_has_its_failures_reported(
        self, read_side, monkeypatch
    ):
        # GIVEN a projector container that cached the registry (5 minutes) while green was ready
        monkeypatch.setenv("VIEW_GENERATIONS_MAX_AGE", "300")
        read_side.create_green()
        registry = read_side.registry
        registry.write(registry.read().begin("green", CURRENT, at="2026-12-05T10:00:00Z"))
        registry.write(registry.read().catching_up("green", at="2026-12-05T10:00:01Z"))
        registry.write(registry.read().ready("green", at="2026-12-05T10:00:02Z", rows=0))
        order_id = read_side.place(customer="customer-a")["order_id"]
        read_side.project_new()
        assert order_id in read_side.view_rows(read_side.green_table)
        # ... then the operator switched to green, and green's row of the order is damaged
        registry.write(registry.read().switch("green", at="2026-12-05T10:00:03Z"))
        green = DynamoDBViewStore(read_side.green_table, read_side.dynamodb, key_attribute="order_id")
        stored = green.get_many([order_id])[order_id]
        green.put(order_id, ViewRow({"not": "an order"}, stored.version), expected_version=stored.version)
        # WHEN the order's next record comes
        read_side.cancel(order_id, customer="customer-a")
        records = [
            r for r in read_side.log_records() if r["dynamodb"]["SequenceNumber"] not in read_side.delivered
        ]
        response = read_side.projector.lambda_handler(ddb_event(records), read_side.context)
        # THEN green, live now, reports it (Lambda delivers it again) and is not marked failed
        assert [item["itemIdentifier"] for item in response["batchItemFailures"]] == [
            records[0]["dynamodb"]["SequenceNumber"]
        ]
        assert not any(g.failed for g in status(generations_of(read_side)))
