"""Every command that can be sent again is recognised however many commands its aggregate took since: the
idempotency window is shrunk to one command here, so each retry below is recognised by the log's command
index, not by the window; a stock bucket's reservations, decided a batch to a commit, are recognised by the
order holding the stock, and the process manager gives back what a repeat holds once the order does not.
Through the real handlers of every context, on moto."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from eventcore import commit_from_item
from eventcore.write import runner
from tests.integration.saga.conftest import BASKET, KETTLE, new_customer
from tests.support.lambdas import http_event, load_function


@pytest.fixture(autouse=True)
def a_window_of_one_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "WINDOW_COMMANDS", 1)
    monkeypatch.setattr(runner, "WINDOW_SECONDS", 0)


def facts(saga, log: str) -> Counter[str]:
    """How many events of each type a context's log holds."""
    items = saga.dynamodb.scan(TableName=saga.logs[log])["Items"]
    return Counter(event.event_type for item in items for event in commit_from_item(item).events)


def commits(saga) -> dict[str, int]:
    """How many commits each context's log holds."""
    return {
        name: saga.dynamodb.scan(TableName=table, Select="COUNT")["Count"]
        for name, table in saga.logs.items()
    }


def call(
    module: Any, saga, method: str, path: str, *, key: str, customer: str, body: Any = None, **path_params
):
    event = http_event(method, path, body=body, customer=customer, headers={"idempotency-key": key})
    if path_params:
        event["pathParameters"] = path_params
    response = module.lambda_handler(event, saga.context)
    return response["statusCode"], json.loads(response.get("body") or "{}"), response.get("headers", {})


def erase_by_staff(saga, customer_id: str, *, key: str) -> tuple[int, Any, dict]:
    """DELETE /customers/{customer_id}/personal-data by privacy staff (scope orders/privacy)."""
    path = f"/customers/{customer_id}/personal-data"
    return call(
        saga.privacy_api, saga, "DELETE", path, key=key, customer="privacy-staff-1", customer_id=customer_id
    )


def test_every_retried_request_answers_the_original_and_records_nothing(saga):
    alice, bob, carol = new_customer(), new_customer(), new_customer()
    # GIVEN an order placed, paid, dispatched and delivered, each step under its own key
    status, placed, _ = call(saga.api, saga, "POST", "/orders", key="checkout-1", customer=alice, body=BASKET)
    assert status == 201
    order_id = placed["order_id"]
    saga.run()
    assert (
        saga.staff(
            "POST",
            f"/shipments/{saga.shipment(order_id).shipment_id}/dispatch",
            {"carrier": "PostNL", "tracking_number": "TR-1"},
            key="scan-1",
        )[0]
        == 200
    )
    saga.run()
    assert (
        saga.staff("POST", f"/shipments/{saga.shipment(order_id).shipment_id}/deliver", key="drop-1")[0]
        == 200
    )
    saga.run()
    # ... a second order cancelled, a receipt of stock, and an erasure, each followed by more commands
    status, other, _ = call(saga.api, saga, "POST", "/orders", key="checkout-2", customer=alice, body=KETTLE)
    cancel = call(
        saga.api,
        saga,
        "POST",
        f"/orders/{other['order_id']}/cancel",
        key="cancel-1",
        customer=alice,
        order_id=other["order_id"],
    )
    assert cancel[0] == 200
    saga.run()
    inventory = load_function("inventory_api")
    receipt = call(
        inventory,
        saga,
        "POST",
        "/inventory/SKU-TEA-001/receipts",
        key="delivery-note-1",
        customer="wh-1",
        body={"quantity": 5},
        sku="SKU-TEA-001",
    )
    assert receipt[0] == 201
    call(
        inventory,
        saga,
        "POST",
        "/inventory/SKU-TEA-001/receipts",
        key="delivery-note-2",
        customer="wh-1",
        body={"quantity": 1},
        sku="SKU-TEA-001",
    )
    erased = call(
        saga.privacy_api, saga, "DELETE", "/customers/me/personal-data", key="erase-1", customer=bob
    )
    assert erased[0] == 200
    call(saga.api, saga, "POST", "/orders", key="checkout-3", customer=bob, body=BASKET)  # a new key for him
    saga.run()
    call(saga.privacy_api, saga, "DELETE", "/customers/me/personal-data", key="erase-2", customer=bob)
    # ... and an erasure by privacy staff, followed by another one after the customer ordered again
    staff_erased = erase_by_staff(saga, carol, key="privacy-ticket-1")
    assert staff_erased[0] == 200
    call(saga.api, saga, "POST", "/orders", key="checkout-4", customer=carol, body=BASKET)
    saga.run()
    assert erase_by_staff(saga, carol, key="privacy-ticket-2")[0] == 200
    before = commits(saga)
    on_hand = saga.stock("SKU-TEA-001").on_hand

    # WHEN every request is sent again with its key
    retries = {
        "place": call(saga.api, saga, "POST", "/orders", key="checkout-1", customer=alice, body=BASKET),
        "cancel": call(
            saga.api,
            saga,
            "POST",
            f"/orders/{other['order_id']}/cancel",
            key="cancel-1",
            customer=alice,
            order_id=other["order_id"],
        ),
        "receipt": call(
            inventory,
            saga,
            "POST",
            "/inventory/SKU-TEA-001/receipts",
            key="delivery-note-1",
            customer="wh-1",
            body={"quantity": 5},
            sku="SKU-TEA-001",
        ),
        "erasure": call(
            saga.privacy_api, saga, "DELETE", "/customers/me/personal-data", key="erase-1", customer=bob
        ),
        "staff erasure": erase_by_staff(saga, carol, key="privacy-ticket-1"),
    }
    for name, path, body, key in (
        ("dispatch", "dispatch", {"carrier": "PostNL", "tracking_number": "TR-1"}, "scan-1"),
        ("deliver", "deliver", None, "drop-1"),
    ):
        answer = saga.staff("POST", f"/shipments/{saga.shipment(order_id).shipment_id}/{path}", body, key=key)
        retries[name] = (*answer, answer.headers)

    # THEN each answers as the first one did (with the aggregate as it is now), says so, and nothing is
    # recorded again
    assert retries["place"][1]["order_id"] == order_id
    assert retries["cancel"][1]["status"] == "cancelled"
    assert (retries["dispatch"][1]["status"], retries["deliver"][1]["status"]) == ("delivered", "delivered")
    assert retries["staff erasure"][1]["customer_id"] == staff_erased[1]["customer_id"] == carol
    assert {name: status for name, (status, _, _) in retries.items()} == {
        "place": 201,
        "cancel": 200,
        "receipt": 201,
        "erasure": 200,
        "staff erasure": 200,
        "dispatch": 200,
        "deliver": 200,
    }
    # The dispatch, the delivery and a repeated erasure answer 200 even when the retry is not recognised
    # (their deciders record nothing for a repeat), so this header is what shows each one was: by the log's
    # command index (with `find_command` answering None, this fails for the dispatch and the erasures). The
    # delivery is the shipment's last command for good, so it stays in the window whatever the window's size.
    not_recognised = [
        name for name, (_, _, headers) in retries.items() if headers.get("Idempotent-Replayed") != "true"
    ]
    assert not_recognised == []
    assert commits(saga) == before
    assert saga.stock("SKU-TEA-001").on_hand == on_hand


def test_every_queued_command_and_published_fact_redelivered_later_changes_nothing(saga, provider):
    # GIVEN orders that went all the way: confirmed, shipped and delivered; and one cancelled
    delivered, _ = saga.place_order(BASKET, customer=new_customer())
    cancelled, _ = saga.place_order(KETTLE, customer=new_customer())
    saga.run()
    saga.dispatch(delivered, key="scan-1")
    saga.run()
    saga.deliver(delivered)
    saga.run()
    assert saga.cancel_order(cancelled, customer=saga.order_events(cancelled)[0][1]["customer_id"]) == 200
    saga.run()
    before = commits(saga)
    facts_before = {name: facts(saga, name) for name in ("Orders", "Inventory")}
    stock_before = {sku: saga.stock(sku) for sku in ("SKU-TEA-001", "SKU-KET-001")}
    authorizations = {order: entry.authorizations for order, entry in provider.ledger.items()}
    # WHEN every command ever queued is redriven, and every published fact is heard again from the start
    for feed in saga.command_feeds:
        feed.send_again(list(feed.delivered))
    for feed in saga.fulfillment_feeds:
        feed.replay_from_start()
    saga.run()
    # THEN no payment or shipping log took anything new, no payment was authorised again, nothing was parked
    after = commits(saga)
    assert (after["Payments"], after["Shipping"]) == (before["Payments"], before["Shipping"])
    assert {order: entry.authorizations for order, entry in provider.ledger.items()} == authorizations
    for queue in ("orders", "payments", "inventory", "buckets", "shipping"):
        assert saga.parked(queue) == [], queue
    # ... and the stock holds exactly what it held. A stock bucket decides a batch of reservations in one
    # commit, so it knows a reservation beyond its window only by its order holding the stock: the two
    # orders here hold nothing any more (shipped, cancelled), so each redriven reservation was held again
    # and the process manager gave it back (docs/capacity.md, "When a reservation is decided again")
    assert {sku: saga.stock(sku).reservations for sku in stock_before} == {
        sku: state.reservations for sku, state in stock_before.items()
    }
    assert {sku: saga.stock(sku).on_hand for sku in stock_before} == {
        sku: state.on_hand for sku, state in stock_before.items()
    }
    new_stock_facts = facts(saga, "Inventory") - facts_before["Inventory"]
    assert new_stock_facts == Counter({"StockReserved": 2, "StockReleased": 2})
    assert facts(saga, "Orders") - facts_before["Orders"] == Counter({"LateAnswerCompensated": 2})
