"""A rebuild over a log with bad streams: each bad stream (a damaged commit, a gap, an event the registry
does not know, data the projection refuses) is reported with its reason and left alone; every other stream
is rebuilt; the command exits with status 1."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from eventcore import commit_to_item
from eventcore.read.generations.replay import rebuild
from eventcore.read.view_store import DynamoDBViewStore
from ops.replay import run
from orders.read_model import order_projection
from tests.support.aws import create_table
from tests.support.read_side import commits_for, lifecycle


def bad_streams(read_side) -> dict[str, str]:
    """Four orders whose logs cannot be replayed, written straight into the table; order id -> reason."""
    put = lambda item: read_side.dynamodb.put_item(TableName=read_side.log_table, Item=item)  # noqa: E731
    ids = {name: str(uuid.uuid4()) for name in ("gap", "unknown", "refused", "damaged")}
    # versions 1 and 3, no 2
    gap = commits_for(ids["gap"], lifecycle(ids["gap"], steps=3))
    put(commit_to_item(gap[0]))
    put(commit_to_item(gap[2]))
    # an event type the registry does not know
    (first,) = commits_for(ids["unknown"], lifecycle(ids["unknown"], steps=1))
    put(commit_to_item(replace(first, events=(replace(first.events[0], event_type="OrderTeleported"),))))
    # an OrderCreated without its lines: the model refuses it (a ValueError)
    (first,) = commits_for(ids["refused"], lifecycle(ids["refused"], steps=1))
    data = {k: v for k, v in first.events[0].payload().items() if k != "lines"}
    put(commit_to_item(replace(first, events=(replace(first.events[0], data=json.dumps(data)),))))
    # a commit item whose events attribute is not JSON
    (first,) = commits_for(ids["damaged"], lifecycle(ids["damaged"], steps=1))
    put({**commit_to_item(first), "events": {"S": "{not json"}})
    return ids


def test_bad_streams_are_reported_and_the_others_rebuilt(read_side):
    good = [read_side.place()["order_id"] for _ in range(3)]
    read_side.project()
    expected = read_side.view_rows()
    bad = bad_streams(read_side)
    rebuilt = create_table(read_side.dynamodb, "OrdersView", "orders-view-rebuilt")
    messages: list[str] = []
    report = rebuild(
        order_projection,
        read_side.dynamodb,
        read_side.log_table,
        DynamoDBViewStore(rebuilt, read_side.dynamodb, key_attribute="order_id"),
        segments=2,
        fresh=True,
        progress=messages.append,
    )
    assert report.failed_streams == 4
    assert (report.rows, report.rows_written) == (3, 3)
    assert read_side.view_rows(rebuilt) == {order_id: expected[order_id] for order_id in good}
    failures = {m for m in messages if "FAILED" in m and m.startswith("stream ")}
    for kind, order_id in bad.items():
        (line,) = [m for m in failures if f"Order-{order_id}" in m]
        assert {
            "gap": "GapError",
            "unknown": "UnknownEventType",
            "refused": "ValidationError",
            "damaged": "not decodable",
        }[kind] in line, line


def test_the_command_exits_non_zero_when_a_stream_failed(read_side, capsys):
    read_side.place()
    arguments = [
        "--projection",
        "orders.read_model:order_projection",
        "--log-table",
        read_side.log_table,
        "--view-table",
        read_side.view_table,
        "--segments",
        "2",
    ]
    assert run(arguments) == 0
    bad_streams(read_side)
    assert run(arguments) == 1
    out = capsys.readouterr().out
    assert "4 streams FAILED" in out
    assert "'failed_streams': 4" in out
    assert len(read_side.view_rows()) == 1
