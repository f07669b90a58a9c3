"""The order-fulfillment process's money and returns, as given past events / when a fact / then its events,
and the commands each of those events sends: the capture when the parcel leaves, a return's parcel awaited
until its deadline, restocked and refunded once it arrives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eventcore.write.command_ids import Cause
from orders.events import ReceivedLine, ReturnLine, ReturnReceived, ReturnRequested
from orders.fulfillment import decider
from orders.fulfillment.events import (
    AuthorisationExpiring,
    AuthorisationWatched,
    CaptureRecorded,
    DeliveryRecorded,
    DispatchRecorded,
    FulfillmentCompleted,
    FulfillmentLine,
    FulfillmentStarted,
    PaymentAnswered,
    ReturnDeadlinePassed,
    ReturnOpened,
    ReturnRefundRecorded,
    ReturnSettling,
    StockAnswered,
)
from orders.fulfillment.inbound import DeadlinePassed, PaymentAuthorized, PaymentCaptured, PaymentRefunded
from orders.fulfillment.outbound import (
    DEADLINES,
    INVENTORY,
    ORDERS,
    PAYMENTS,
    commands_for,
    return_receipt_id,
)
from tests.support.deciders import DeciderSpec

ORDER = "0f8e4c1a-3b2d-4e6f-9a7b-1c2d3e4f5a6b"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DEADLINE_AT = T0 + timedelta(days=14)
spec = DeciderSpec(decider(timedelta(minutes=5)))

started = FulfillmentStarted(
    order_id=ORDER,
    customer_id="alice",
    lines=(FulfillmentLine(sku="SKU-TEA-001", quantity=2), FulfillmentLine(sku="SKU-MUG-001", quantity=1)),
    amount=4795,
    currency="EUR",
    parcel=None,
    payment_method="pm_card_visa",
    deadline_at=T0 + timedelta(minutes=5),
    started_at=T0,
)
delivered = (
    started,
    StockAnswered(order_id=ORDER, sku="SKU-TEA-001", reserved=True, answered_at=T0),
    StockAnswered(order_id=ORDER, sku="SKU-MUG-001", reserved=True, answered_at=T0),
    PaymentAnswered(order_id=ORDER, payment_id="p-1", authorized=True, reason=None, answered_at=T0),
    FulfillmentCompleted(order_id=ORDER, payment_id="p-1", completed_at=T0),
    DispatchRecorded(
        order_id=ORDER, carrier="PostNL", tracking_number="TR-1", capture=4795, dispatched_at=T0
    ),
    DeliveryRecorded(order_id=ORDER, delivered_at=T0),
)
requested = ReturnRequested(
    order_id=ORDER,
    return_id="r-1",
    lines=(ReturnLine(sku="SKU-TEA-001", quantity=2), ReturnLine(sku="SKU-MUG-001", quantity=1)),
    requested_at=T0,
    deadline_at=DEADLINE_AT,
)
opened = ReturnOpened(order_id=ORDER, return_id="r-1", deadline_at=DEADLINE_AT, opened_at=T0)
received = ReturnReceived(
    order_id=ORDER,
    return_id="r-1",
    lines=(
        ReceivedLine(sku="SKU-TEA-001", quantity=2, condition="sellable"),
        ReceivedLine(sku="SKU-MUG-001", quantity=1, condition="damaged"),
    ),
    refund=2500,
    received_at=T0,
)
settling = ReturnSettling(
    order_id=ORDER,
    return_id="r-1",
    restock=(FulfillmentLine(sku="SKU-TEA-001", quantity=2),),
    refund=2500,
    received_at=T0,
)
CAUSE = Cause("e-1", "corr-1", "e-1")


def sent(event: object) -> list[tuple[str, str, dict]]:
    return [
        (c.queue, c.message.command_type, c.message.payload)
        for c in commands_for(event, CAUSE, ["SKU-TEA-001", "SKU-MUG-001"], T0)  # type: ignore[arg-type]
    ]


class TestCapture:
    def test_the_dispatch_captures_the_whole_order_and_the_payment_is_heard_once(self):
        assert (PAYMENTS, "CapturePayment", {"order_id": ORDER, "amount": 4795}) in sent(delivered[5])
        captured = PaymentCaptured(payment_id="p-1", order_id=ORDER, amount=4795, captured_at=T0)
        recorded = CaptureRecorded(order_id=ORDER, amount=4795, captured_at=T0)
        spec.given(*delivered).when(captured).then(recorded)
        spec.given(*delivered, recorded).when(captured).then()
        assert [c[:2] for c in sent(recorded)] == [(ORDERS, "RecordCapture")]

    def test_a_dispatch_recorded_before_captures_existed_captures_nothing(self):
        old = DispatchRecorded(order_id=ORDER, carrier="PostNL", tracking_number="TR-1", dispatched_at=T0)
        assert [c[1] for c in sent(old)] == ["CommitStock", "CommitStock", "ShipOrder"]


class TestAReturn:
    def test_is_opened_with_its_deadline_once(self):
        spec.given(*delivered).when(requested).then(opened)
        spec.given(*delivered, opened).when(requested).then()
        [(queue, kind, payload)] = sent(opened)
        assert (queue, kind, payload["return_id"]) == (DEADLINES, "CheckDeadline", "r-1")

    def test_received_restocks_what_is_sellable_and_refunds_what_the_order_decided(self):
        spec.given(*delivered, opened).when(received).then(settling)
        assert sent(settling) == [
            (
                INVENTORY,
                "ReceiveStock",
                {
                    "sku": "SKU-TEA-001",
                    "order_id": ORDER,
                    "receipt_id": return_receipt_id("r-1", "SKU-TEA-001"),
                    "quantity": 2,
                },
            ),
            (PAYMENTS, "RefundPayment", {"order_id": ORDER, "refund_id": "r-1", "amount": 2500}),
        ]
        spec.given(*delivered, opened, settling).when(received).then()  # heard again: nothing twice

    def test_is_over_once_payments_refunded_it(self):
        refunded = PaymentRefunded(order_id=ORDER, refund_id="r-1", amount=2500, refunded_at=T0)
        recorded = ReturnRefundRecorded(order_id=ORDER, return_id="r-1", amount=2500, refunded_at=T0)
        spec.given(*delivered, opened, settling).when(refunded).then(recorded)
        spec.given(*delivered, opened, settling, recorded).when(refunded).then()
        assert [c[:2] for c in sent(recorded)] == [(ORDERS, "RecordReturnRefund")]


class TestAReturnsDeadline:
    def test_expires_a_return_never_received(self):
        passed = DeadlinePassed(order_id=ORDER, at=DEADLINE_AT, return_id="r-1")
        expiring = ReturnDeadlinePassed(order_id=ORDER, return_id="r-1", passed_at=DEADLINE_AT)
        spec.given(*delivered, opened).when(passed).then(expiring)
        assert [c[:2] for c in sent(expiring)] == [(ORDERS, "ExpireReturn")]

    def test_changes_nothing_early_or_once_the_parcel_arrived(self):
        early = DeadlinePassed(order_id=ORDER, at=DEADLINE_AT - timedelta(seconds=1), return_id="r-1")
        spec.given(*delivered, opened).when(early).then()
        passed = DeadlinePassed(order_id=ORDER, at=DEADLINE_AT, return_id="r-1")
        spec.given(*delivered, opened, settling).when(passed).then()

    def test_a_parcel_received_as_the_deadline_passed_is_still_settled(self):
        expiring = ReturnDeadlinePassed(order_id=ORDER, return_id="r-1", passed_at=DEADLINE_AT)
        spec.given(*delivered, opened, expiring).when(received).then(settling)


class TestAnAuthorisationAboutToExpire:
    completed_at = T0
    watched = AuthorisationWatched(
        order_id=ORDER, expires_at=T0 + timedelta(days=7), check_at=T0 + timedelta(days=7) * 0.9
    )
    confirmed = (*delivered[:5], watched)

    def test_is_flagged_once_while_the_parcel_waits(self):
        look = DeadlinePassed(order_id=ORDER, at=self.watched.check_at, watch="authorisation")
        expiring = AuthorisationExpiring(
            order_id=ORDER, expires_at=self.watched.expires_at, noticed_at=look.at
        )
        spec.given(*self.confirmed).when(look).then(expiring)
        spec.given(*self.confirmed, expiring).when(look).then()

    def test_says_the_expiry_recorded_when_the_watch_began_whatever_the_hold_is_now(self):
        # GIVEN the hold configured shorter since the watch began (7 days then, 1 day now)
        look = DeadlinePassed(order_id=ORDER, at=self.watched.check_at, watch="authorisation")
        shorter = DeciderSpec(decider(timedelta(minutes=5), timedelta(days=1)))
        # THEN the expiry flagged is the one recorded
        expiring = AuthorisationExpiring(
            order_id=ORDER, expires_at=self.watched.expires_at, noticed_at=look.at
        )
        shorter.given(*self.confirmed).when(look).then(expiring)

    def test_changes_nothing_once_the_parcel_left_or_before_its_time(self):
        look = DeadlinePassed(order_id=ORDER, at=self.watched.check_at, watch="authorisation")
        spec.given(*self.confirmed, delivered[5]).when(look).then()
        early = DeadlinePassed(order_id=ORDER, at=T0 + timedelta(days=1), watch="authorisation")
        spec.given(*self.confirmed).when(early).then()

    def test_is_shown_on_the_order(self):
        expiring = AuthorisationExpiring(order_id=ORDER, expires_at=self.watched.expires_at, noticed_at=T0)
        [(queue, kind, payload)] = sent(expiring)
        assert (queue, kind, payload["expires_at"]) == (
            ORDERS,
            "FlagAuthorisationExpiring",
            self.watched.expires_at.isoformat(),
        )

    def test_is_looked_at_through_the_deadline_queue(self):
        [(queue, kind, payload)] = sent(self.watched)
        assert (queue, kind, payload["watch"]) == (DEADLINES, "CheckDeadline", "authorisation")


def test_a_hold_of_zero_watches_no_authorisation():
    unwatched = DeciderSpec(decider(timedelta(minutes=5), timedelta(0)))
    authorized = PaymentAuthorized(payment_id="p-1", order_id=ORDER, authorized_at=T0)
    unwatched.given(*delivered[:3]).when(authorized).then(
        PaymentAnswered(order_id=ORDER, payment_id="p-1", authorized=True, reason=None, answered_at=T0),
        FulfillmentCompleted(order_id=ORDER, payment_id="p-1", completed_at=T0),
    )
