"""`python -m demo`: start a local cloud over template.yaml (gateway on 127.0.0.1:3000 if free, else any
port), place a few orders through the HTTP gateway, and show what the system did with each: its events, its
row in the read model, its final status; then the sales analytics. Exits 0 only if every expected outcome
was seen.

The orders:
  1. 2 x green tea with campaign WELCOME10, paid with the payment method pm_card_visa -> confirmed,
     discounted; warehouse staff dispatch it with a tracking number (its payment captured) and record its
     delivery -> delivered; the customer returns one tea, the warehouse receives it fit to sell -> back in
     stock, refunded its price less its share of the discount (docs/payments.md)
  2. 20 x teapot (over the fake payment provider's limit) -> cancelled, payment_declined
  3. 11 x gooseneck kettle (10 in stock; under the payment limit, so only the stock refuses it) ->
     cancelled, out_of_stock, its payment voided
  4. 1 x green tea paid with a card whose provider never answers -> cancelled at its deadline,
     payment_timeout, its stock released
  5. 1 x teapot, cancelled by the customer once paid -> cancelled, customer_request, payment voided

The demo's cloud gives the fulfillment a 15 s deadline (FulfillmentDeadlineSeconds; 300 s by default).
"""

from __future__ import annotations

import io
import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import requests

from localcloud import LocalCloud

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "eventcore"))
from eventcore import DynamoDBEventStore

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
TIMEOUT = 60.0  # for the saga to finish: several hops, on a machine that may be busy
# A client timeout above the function's own (10 s) plus a cold worker's init (30 s): the gateway waits for a
# worker that is starting rather than failing the request, and so must the client.
REQUEST_TIMEOUT = 60.0
CUSTOMER = "demo-customer"
UNANSWERED_CARD = "customer-card-unresponsive"  # the fake provider never answers this customer's card
DEADLINE_SECONDS = 15
MONEY = ("revenue", "discounts", "subtotal", "shipping", "refunds", "net_revenue")


class DemoFailedError(Exception):
    pass


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(what: str, predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoFailedError(f"{what}: not seen within {timeout:.0f} s (last: {value!r})")
        time.sleep(0.1)


def euros(cents: int | None) -> str:
    return "-" if cents is None else f"EUR {cents / 100:,.2f}"


class Walk:
    def __init__(self, cloud: LocalCloud, out: TextIO) -> None:
        self.cloud, self.out = cloud, out
        self.url = cloud.gateway_url
        self.headers = {"Authorization": f"Bearer {cloud.token(CUSTOMER)}"}
        self.staff = {"Authorization": f"Bearer {cloud.token('wh-1', scopes=['orders/warehouse'])}"}
        self.failures: list[str] = []

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def check(self, ok: bool, what: str) -> None:
        self.say(f"    [{'ok' if ok else 'FAILED'}] {what}")
        if not ok:
            self.failures.append(what)

    def place(
        self, label: str, lines: list[dict[str, Any]], *, customer: str = CUSTOMER, **extra: Any
    ) -> dict[str, Any]:
        body = {
            "lines": lines,
            "shipping_address": {
                "name": "Alice Example",
                "line1": "Oudegracht 1",
                "city": "Utrecht",
                "postal_code": "3511 AA",
                "country": "NL",
            },
            **extra,
        }
        self.say(f"$ curl -X POST {self.url}/orders -H 'Authorization: Bearer ...' -d '{json.dumps(body)}'")
        headers = self.headers if customer == CUSTOMER else self.token_of(customer)
        response = requests.post(f"{self.url}/orders", json=body, headers=headers, timeout=REQUEST_TIMEOUT)
        if response.status_code != 201:
            raise DemoFailedError(f"placing {label}: HTTP {response.status_code} {response.text}")
        order = response.json()
        self.say(f"  201 {label}: {order['order_id']} {order['status']}, total {euros(order['total'])}")
        return order

    def token_of(self, customer: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.cloud.token(customer)}"}

    def order(self, order_id: str, customer: str = CUSTOMER) -> dict[str, Any] | None:
        headers = self.headers if customer == CUSTOMER else self.token_of(customer)
        response = requests.get(f"{self.url}/orders/{order_id}", headers=headers, timeout=REQUEST_TIMEOUT)
        return response.json() if response.status_code == 200 else None

    def final(
        self, order_id: str, status: str, customer: str = CUSTOMER, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        return wait_until(
            f"order {order_id} {status}",
            lambda: (order := self.order(order_id, customer)) and order["status"] == status and order,
            timeout=timeout,
        )

    def staff_post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.say(
            f"$ curl -X POST {self.url}{path} -H 'Authorization: Bearer <staff token>'"
            + (f" -d '{json.dumps(body)}'" if body else "")
        )
        response = requests.post(f"{self.url}{path}", json=body, headers=self.staff, timeout=REQUEST_TIMEOUT)
        self.say(f"  {response.status_code} {response.json().get('status')}")
        if response.status_code != 200:
            raise DemoFailedError(f"POST {path}: HTTP {response.status_code} {response.text}")
        return dict(response.json())

    def ship(self, order_id: str) -> None:
        """Warehouse staff pick the order from the queue of parcels ready to ship, dispatch it, deliver it."""

        def in_queue() -> str | None:
            response = requests.get(
                f"{self.url}/shipments?status=ready_to_ship&limit=100",
                headers=self.staff,
                timeout=REQUEST_TIMEOUT,
            )
            listed = response.json().get("shipments", []) if response.status_code == 200 else []
            return next((s["shipment_id"] for s in listed if s["order_id"] == order_id), None)

        self.say(
            "\nwarehouse staff (scope orders/warehouse) take it from GET /shipments?status=ready_to_ship:"
        )
        shipment_id = wait_until(f"order {order_id} ready to ship", in_queue)
        self.staff_post(
            f"/shipments/{shipment_id}/dispatch", {"carrier": "PostNL", "tracking_number": "3SDEMO0123456789"}
        )
        self.final(order_id, "shipped")
        self.staff_post(f"/shipments/{shipment_id}/deliver")

    def show(self, label: str, order: dict[str, Any], customer: str = CUSTOMER) -> list[dict[str, Any]]:
        order_id = order["order_id"]
        headers = self.headers if customer == CUSTOMER else self.token_of(customer)
        response = requests.get(
            f"{self.url}/orders/{order_id}/events", headers=headers, timeout=REQUEST_TIMEOUT
        )
        events = response.json()["events"] if response.status_code == 200 else []
        self.say(f"\n== {label}: {order_id}")
        self.say(f"  events (GET /orders/{order_id}/events):")
        for event in events:
            data = event["data"]
            detail = (
                data.get("reason")
                or data.get("tracking_number")
                or data.get("payment_id")
                or (euros(data["total"]) if "total" in data else data.get("delivered_at"))
            )
            self.say(f"    v{event['version']} {event['recorded_at']} {event['type']:<16} {detail}")
        self.say(f"  read model (GET /orders/{order_id}):")
        for name in (
            "status",
            "cancellation_reason",
            "campaign_code",
            "carrier",
            "tracking_number",
            "subtotal",
            "discount",
            "shipping",
            "total",
        ):
            value = order.get(name)
            shown = euros(value) if name in ("subtotal", "discount", "shipping", "total") else value
            self.say(f"    {name:<20} {shown}")
        self.say(f"    {'version':<20} {order['version']}")
        return events

    def return_one_tea(self, order: dict[str, Any]) -> int:
        """The customer returns one of the two teas; the warehouse receives it fit to sell; it goes back on
        the shelf and is refunded. Returns the refund."""
        order_id = order["order_id"]
        captured = wait_until(
            "the payment captured", lambda: (o := self.order(order_id)) and o["captured"] and o
        )
        self.check(captured["captured"] == order["total"], f"captured as it shipped: {euros(order['total'])}")
        on_hand = (self.stock("SKU-TEA-001") or {}).get("on_hand", 0)
        body = {"lines": [{"sku": "SKU-TEA-001", "quantity": 1}]}
        self.say("\nthe customer returns one tea:")
        self.say(f"$ curl -X POST {self.url}/orders/{order_id}/returns -d '{json.dumps(body)}'")
        response = requests.post(
            f"{self.url}/orders/{order_id}/returns",
            json=body,
            headers={**self.headers, "Idempotency-Key": "demo-return-1"},
            timeout=REQUEST_TIMEOUT,
        )
        if response.status_code != 201:
            raise DemoFailedError(f"returning: HTTP {response.status_code} {response.text}")
        returned = response.json()
        self.say(
            f"  201 return {returned['return_id']} {returned['status']}, until {returned['deadline_at']}"
        )
        received = self.staff_post(
            f"/orders/{order_id}/returns/{returned['return_id']}/receipt",
            {"lines": [{"sku": "SKU-TEA-001", "quantity": 1, "condition": "sellable"}]},
        )
        # 2 x 12.50 with 10% off: one tea back refunds 12.50 less floor(2.50 * 12.50 / 25.00) = 11.25
        expected = 1250 - order["discount"] * 1250 // order["subtotal"]
        self.check(
            received["refund"] == expected, f"the return refunds {euros(expected)} (less its discount)"
        )
        refunded = wait_until(
            "the return refunded", lambda: (o := self.order(order_id)) and o["refunded"] and o
        )
        self.say(
            f"  the order: authorised {euros(refunded['authorised'])}, "
            f"captured {euros(refunded['captured'])}, refunded {euros(refunded['refunded'])}; "
            f"return {refunded['returns'][0]['status']}"
        )
        self.check(refunded["refunded"] == expected, f"refunded {euros(expected)}")
        self.check(refunded["returns"][0]["status"] == "refunded", "the return refunded")
        tea = wait_until(
            "the returned tea back on the shelf",
            lambda: (levels := self.stock("SKU-TEA-001")) and levels["on_hand"] == on_hand + 1 and levels,
        )
        self.check(tea["on_hand"] == on_hand + 1, "the returned tea back in stock")
        payments = self.payment_events(refunded["payment_id"])
        self.say(f"  payment {refunded['payment_id']} (payments event log): {' -> '.join(payments)}")
        self.check(
            payments
            == [
                "PaymentRequested",
                "PaymentAuthorized",
                "PaymentCaptured",
                "PaymentRefundRequested",
                "PaymentRefunded",
            ],
            "payment requested, authorised, captured once, refunded once",
        )
        return expected

    def stock(self, sku: str) -> dict[str, Any] | None:
        response = requests.get(f"{self.url}/inventory/{sku}", headers=self.staff, timeout=REQUEST_TIMEOUT)
        return response.json() if response.status_code == 200 else None

    def payment_events(self, payment_id: str) -> list[str]:
        store = DynamoDBEventStore(self.cloud.physical_id("PaymentsEventLog"), self.cloud.client("dynamodb"))
        return [event.event_type for commit in store.read(f"Payment-{payment_id}") for event in commit.events]

    def analytics(self) -> dict[tuple[str, str], dict[str, int]]:
        dynamodb = self.cloud.client("dynamodb")
        table = self.cloud.physical_id("SalesAnalytics")
        rows: dict[tuple[str, str], dict[str, int]] = {}
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if item["pk"]["S"].startswith("event#"):
                    continue  # the per-event "counted" markers
                counters = {k: int(v["N"]) for k, v in item.items() if k not in ("pk", "sk") and "N" in v}
                rows[(item["pk"]["S"], item["sk"]["S"])] = counters
        return rows

    def run(self) -> None:
        self.say(f"local cloud ready: gateway {self.url}, customer '{CUSTOMER}'\n")
        campaign = self.place(
            "campaign order",
            [{"sku": "SKU-TEA-001", "quantity": 2}],
            campaign_code="WELCOME10",
            payment_method="pm_card_visa",
        )
        declined = self.place("order over the payment limit", [{"sku": "SKU-POT-001", "quantity": 20}])
        no_stock = self.place(
            "order for more kettles than there are", [{"sku": "SKU-KET-001", "quantity": 11}]
        )
        unanswered = self.place(
            "order paid with a card nobody answers",
            [{"sku": "SKU-TEA-001", "quantity": 1}],
            customer=UNANSWERED_CARD,
        )
        to_cancel = self.place("order to cancel once paid", [{"sku": "SKU-POT-001", "quantity": 1}])

        self.say(
            "\nwaiting for the saga (order-events, inventory and payments, their events, order-commands) ..."
        )
        paid = self.final(to_cancel["order_id"], "confirmed")
        self.say(f"  {to_cancel['order_id']} confirmed; the customer cancels it:")
        self.say(
            f"$ curl -X POST {self.url}/orders/{to_cancel['order_id']}/cancel -H 'Authorization: Bearer ...'"
        )
        response = requests.post(
            f"{self.url}/orders/{to_cancel['order_id']}/cancel", headers=self.headers, timeout=REQUEST_TIMEOUT
        )
        self.say(f"  {response.status_code} {response.json().get('status')}")
        self.final(campaign["order_id"], "confirmed")
        self.ship(campaign["order_id"])

        outcomes = [
            ("1. campaign order, shipped and delivered", campaign, "delivered"),
            ("2. declined by payment", declined, "cancelled"),
            ("3. out of stock", no_stock, "cancelled"),
            ("5. cancelled by the customer after payment", to_cancel, "cancelled"),
        ]
        finals = {label: self.final(order["order_id"], status) for label, order, status in outcomes}

        label = outcomes[0][0]
        order, events = finals[label], self.show(label, finals[label])
        self.check(order["status"] == "delivered", "campaign order delivered")
        self.check(
            (order["carrier"], order["tracking_number"]) == ("PostNL", "3SDEMO0123456789"),
            f"shipped with PostNL, tracking number {order['tracking_number']}",
        )
        self.check(
            order["campaign_code"] == "WELCOME10" and order["discount"] > 0, "WELCOME10 discount applied"
        )
        self.check(
            [e["type"] for e in events if e["type"] != "OrderPaymentCaptured"]
            == ["OrderCreated", "OrderConfirmed", "OrderShipped", "OrderDelivered"],
            "events: created, confirmed, shipped, delivered",
        )
        refund = self.return_one_tea(order)

        for (label, _, _), reason in zip(outcomes[1:3], ("payment_declined", "out_of_stock"), strict=True):
            order, events = finals[label], self.show(label, finals[label])
            self.check(order["cancellation_reason"] == reason, f"cancelled with reason {reason}")
            self.check(
                [e["type"] for e in events] == ["OrderCreated", "OrderCancelled"],
                "events: created, cancelled",
            )

        label = "4. a payment that never answers"
        self.say(
            f"\nwaiting for the fulfillment deadline ({DEADLINE_SECONDS} s) of {unanswered['order_id']} ..."
        )
        order = self.final(
            unanswered["order_id"], "cancelled", customer=UNANSWERED_CARD, timeout=DEADLINE_SECONDS + TIMEOUT
        )
        self.show(label, order, customer=UNANSWERED_CARD)
        self.check(
            order["cancellation_reason"] == "payment_timeout", "cancelled at its deadline: payment_timeout"
        )
        tea = wait_until(
            "the unanswered order's tea back on the shelf",
            lambda: (levels := self.stock("SKU-TEA-001")) and levels["reserved"] == 0 and levels,
        )
        self.check(tea["reserved"] == 0, f"its stock released: SKU-TEA-001 {tea}")

        label = outcomes[3][0]
        order, events = finals[label], self.show(label, finals[label])
        self.check(
            order["cancellation_reason"] == "customer_request", "cancelled with reason customer_request"
        )
        self.check(
            [e["type"] for e in events] == ["OrderCreated", "OrderConfirmed", "OrderCancelled"],
            "events: created, confirmed, cancelled",
        )
        try:
            payment = wait_until(
                "payment voided",
                lambda: (
                    (types := self.payment_events(paid["payment_id"])) and "PaymentVoided" in types and types
                ),
            )
        except DemoFailedError as error:
            payment = [str(error)]
        self.say(f"  payment {paid['payment_id']} (payments event log): {' -> '.join(payment)}")
        self.check(payment[-1:] == ["PaymentVoided"], "payment voided (the saga's compensation)")

        self.say("\n== sales analytics (SalesAnalytics table)")
        placed = (campaign, declined, no_stock, unanswered, to_cancel)
        expected_revenue = sum(o["total"] for o in placed)

        def counted() -> dict | None:
            rows = self.analytics()
            totals = next(
                (v for (pk, sk), v in rows.items() if pk.startswith("day#") and sk == "total#EUR"), {}
            )
            cancellations = sum(
                v.get("cancellations", 0) for (_, sk), v in rows.items() if "cancellations#" in sk
            )
            settled = totals.get("orders") == len(placed) and totals.get("refunds") == refund
            return rows if settled and cancellations == len(placed) - 1 else None

        try:
            rows = wait_until(
                f"sales analytics counting {len(placed)} orders and {len(placed) - 1} cancellations", counted
            )
        except DemoFailedError as error:
            self.check(False, str(error))
            rows = self.analytics()
        for (pk, sk), counters in sorted(rows.items()):
            shown = ", ".join(
                f"{name} {euros(value) if name in MONEY else value}"
                for name, value in sorted(counters.items())
            )
            self.say(f"  {pk:<22} {sk:<32} {shown}")
        totals: dict[str, int] = next(
            (v for (pk, sk), v in rows.items() if pk.startswith("day#") and sk == "total#EUR"), {}
        )
        self.check(totals.get("revenue") == expected_revenue, f"day's revenue is {euros(expected_revenue)}")
        self.check(
            (totals.get("refunds"), totals.get("net_revenue")) == (refund, expected_revenue - refund),
            f"refunds {euros(refund)}, net revenue {euros(expected_revenue - refund)}",
        )
        self.check(
            rows.get(("campaign#WELCOME10", "total#EUR"), {}).get("orders") == 1, "WELCOME10 counted once"
        )


def main() -> int:
    port = 3000 if port_free(3000) else 0
    log_path = Path(tempfile.gettempdir()) / "orders-demo-functions.log"
    started = time.monotonic()
    log_path.unlink(missing_ok=True)
    out = sys.stdout
    print("starting the local cloud (template.yaml) ...", file=out)
    try:
        with LocalCloud(
            TEMPLATE,
            port=port,
            moto_port=0,
            output=io.StringIO(),
            function_logs=log_path,
            parameter_overrides={"FulfillmentDeadlineSeconds": str(DEADLINE_SECONDS)},
        ) as cloud:
            walk = Walk(cloud, out)
            walk.run()
    except (DemoFailedError, requests.RequestException) as error:
        print(f"\nDEMO FAILED: {error}\n(functions' logs: {log_path})", file=out)
        return 1
    elapsed = time.monotonic() - started
    if walk.failures:
        print(f"\nDEMO FAILED: {len(walk.failures)} expected outcome(s) not observed:", file=out)
        for failure in walk.failures:
            print(f"  - {failure}", file=out)
        print(f"(functions' logs: {log_path})", file=out)
        return 1
    print(f"\nevery expected outcome observed in {elapsed:.1f} s (functions' logs: {log_path})", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
