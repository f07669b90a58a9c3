"""An order's returns and money: the Order decider's rules for returns (given/when/then), the refund rule of
orders/refunds.py, and, with Hypothesis, that for any order and any sequence of partial returns the refunds
never exceed the capture, each equals the documented proration, and a whole order returned refunds exactly
the capture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from orders.commands import (
    ExpireReturn,
    FlagAuthorisationExpiring,
    ReceiveReturn,
    RecordCapture,
    RecordReturnRefund,
    RequestReturn,
)
from orders.errors import (
    OrderNotFoundError,
    ReturnAlreadySettledError,
    ReturnNotAllowedError,
    ReturnNotFoundError,
)
from orders.events import (
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderPaymentCaptured,
    OrderPaymentExpiring,
    OrderShipped,
    ReceivedLine,
    ReturnExpired,
    ReturnLine,
    ReturnReceived,
    ReturnRefunded,
    ReturnRequested,
)
from orders.order import Order, ReturnStatus, order_decider
from orders.pricing import OrderLine
from orders.refunds import refund_of_return, refunded_for
from tests.support.deciders import DeciderSpec

ORDER = "5b0e4a3e-8a31-4a0c-9d4e-6f1e0c1f0a01"
CUSTOMER = "c-2f6d1c8e"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DELIVERED_AT = T0 + timedelta(days=2)
WINDOW = 30 * 86_400
TEA = OrderLine(sku="SKU-TEA-001", name="Green tea", quantity=3, unit_price=1250, line_total=3750)
MUG = OrderLine(sku="SKU-MUG-001", name="Mug", quantity=1, unit_price=1799, line_total=1799)

spec = DeciderSpec(order_decider)


def history(lines: tuple[OrderLine, ...] = (TEA, MUG), discount: int = 554, shipping: int = 495) -> list:
    subtotal = sum(line.line_total for line in lines)
    total = subtotal - discount + shipping
    return [
        OrderCreated(
            order_id=ORDER,
            customer_id=CUSTOMER,
            lines=lines,
            currency="EUR",
            subtotal=subtotal,
            discount=discount,
            campaign_code="WELCOME10" if discount else None,
            shipping=shipping,
            total=total,
            destination_country="NL",
            payment_method="pm_card_visa",
            placed_at=T0,
        ),
        OrderConfirmed(order_id=ORDER, payment_id="p-1", confirmed_at=T0),
        OrderShipped(order_id=ORDER, carrier="PostNL", tracking_number="TR-1", shipped_at=T0),
        OrderPaymentCaptured(order_id=ORDER, amount=total, captured_at=T0),
        OrderDelivered(order_id=ORDER, delivered_at=DELIVERED_AT),
    ]


def ask(
    return_id: str, *lines: tuple[str, int], at: datetime = DELIVERED_AT, by: str = CUSTOMER
) -> RequestReturn:
    return RequestReturn(
        order_id=ORDER,
        return_id=return_id,
        requested_by=by,
        lines=tuple(ReturnLine(sku=sku, quantity=quantity) for sku, quantity in lines),
        window_seconds=WINDOW,
        deadline_at=at + timedelta(days=14),
        at=at,
    )


def asked(return_id: str, *lines: tuple[str, int]) -> ReturnRequested:
    return ReturnRequested(
        order_id=ORDER,
        return_id=return_id,
        lines=tuple(ReturnLine(sku=sku, quantity=quantity) for sku, quantity in lines),
        requested_at=DELIVERED_AT,
        deadline_at=DELIVERED_AT + timedelta(days=14),
    )


def receive(return_id: str, *lines: tuple[str, int, str]) -> ReceiveReturn:
    return ReceiveReturn(
        order_id=ORDER,
        return_id=return_id,
        lines=tuple(ReceivedLine(sku=s, quantity=q, condition=c) for s, q, c in lines),
        at=DELIVERED_AT,
    )


class TestRequestReturn:
    def test_a_delivered_orders_lines_are_asked_back(self):
        state = (
            spec.given(*history()).when(ask("r-1", ("SKU-TEA-001", 2))).then(asked("r-1", ("SKU-TEA-001", 2)))
        )
        assert [(r.return_id, r.status) for r in state.returns] == [("r-1", ReturnStatus.REQUESTED)]

    def test_the_same_return_again_records_nothing_and_otherwise_is_refused(self):
        given = (*history(), asked("r-1", ("SKU-TEA-001", 2)))
        spec.given(*given).when(ask("r-1", ("SKU-TEA-001", 2))).then()
        spec.given(*given).when(ask("r-1", ("SKU-TEA-001", 1))).then_raises(ReturnAlreadySettledError)

    def test_another_customers_order_reads_as_missing(self):
        spec.given(*history()).when(ask("r-1", ("SKU-TEA-001", 1), by="mallory")).then_raises(
            OrderNotFoundError
        )

    def test_outside_the_window_is_refused(self):
        late = DELIVERED_AT + timedelta(seconds=WINDOW + 1)
        error = (
            spec.given(*history())
            .when(ask("r-1", ("SKU-TEA-001", 1), at=late))
            .then_raises(ReturnNotAllowedError, match="return window")
        )
        assert "30 days after its delivery" in error.message

    def test_an_order_not_delivered_is_refused(self):
        spec.given(*history()[:4]).when(ask("r-1", ("SKU-TEA-001", 1))).then_raises(
            ReturnNotAllowedError, match="only a delivered order"
        )

    def test_more_than_is_left_to_return_is_refused_naming_the_line(self):
        given = (*history(), asked("r-1", ("SKU-TEA-001", 2)))
        error = (
            spec.given(*given)
            .when(ask("r-2", ("SKU-MUG-001", 1), ("SKU-TEA-001", 2)))
            .then_raises(ReturnNotAllowedError)
        )
        assert error.field == "lines[1].quantity"
        spec.given(*history()).when(ask("r-1", ("SKU-POT-001", 1))).then_raises(ReturnNotAllowedError)

    def test_an_expired_returns_lines_may_be_asked_again(self):
        expired = ReturnExpired(order_id=ORDER, return_id="r-1", expired_at=DELIVERED_AT)
        given = (*history(), asked("r-1", ("SKU-TEA-001", 3)), expired)
        spec.given(*given).when(ask("r-2", ("SKU-TEA-001", 3))).then(asked("r-2", ("SKU-TEA-001", 3)))


class TestReceiveReturn:
    def test_records_what_arrived_and_what_it_refunds(self):
        given = (*history(), asked("r-1", ("SKU-TEA-001", 2)))
        # 2 teas: 2500, less floor(554 * 2500 / 5549) = 249 of the discount
        state = (
            spec.given(*given)
            .when(receive("r-1", ("SKU-TEA-001", 2, "sellable")))
            .then(
                ReturnReceived(
                    order_id=ORDER,
                    return_id="r-1",
                    lines=(ReceivedLine(sku="SKU-TEA-001", quantity=2, condition="sellable"),),
                    refund=2251,
                    received_at=DELIVERED_AT,
                )
            )
        )
        assert state.returns[0].status is ReturnStatus.RECEIVED

    def test_more_than_was_asked_is_refused_and_an_unknown_return_is_not_found(self):
        given = (*history(), asked("r-1", ("SKU-TEA-001", 1)))
        spec.given(*given).when(receive("r-1", ("SKU-TEA-001", 2, "sellable"))).then_raises(
            ReturnNotAllowedError
        )
        spec.given(*given).when(receive("r-9", ("SKU-TEA-001", 1, "sellable"))).then_raises(
            ReturnNotFoundError
        )

    def test_an_expired_return_is_not_received(self):
        expired = ReturnExpired(order_id=ORDER, return_id="r-1", expired_at=DELIVERED_AT)
        spec.given(*history(), asked("r-1", ("SKU-TEA-001", 1)), expired).when(
            receive("r-1", ("SKU-TEA-001", 1, "sellable"))
        ).then_raises(ReturnAlreadySettledError, match="expired")


class TestExpiryAndRefund:
    def test_an_awaited_return_expires_and_a_received_one_does_not(self):
        expire = ExpireReturn(order_id=ORDER, return_id="r-1", at=DELIVERED_AT)
        given = (*history(), asked("r-1", ("SKU-TEA-001", 1)))
        spec.given(*given).when(expire).then(
            ReturnExpired(order_id=ORDER, return_id="r-1", expired_at=DELIVERED_AT)
        )
        received = ReturnReceived(
            order_id=ORDER,
            return_id="r-1",
            lines=(ReceivedLine(sku="SKU-TEA-001", quantity=1, condition="damaged"),),
            refund=1126,
            received_at=DELIVERED_AT,
        )
        spec.given(*given, received).when(expire).then()

    def test_the_refund_is_recorded_once_and_the_order_shows_its_money(self):
        received = ReturnReceived(
            order_id=ORDER,
            return_id="r-1",
            lines=(ReceivedLine(sku="SKU-TEA-001", quantity=1, condition="damaged"),),
            refund=1126,
            received_at=DELIVERED_AT,
        )
        record = RecordReturnRefund(order_id=ORDER, return_id="r-1", amount=1126, at=DELIVERED_AT)
        given = (*history(), asked("r-1", ("SKU-TEA-001", 1)), received)
        refunded = ReturnRefunded(
            order_id=ORDER,
            return_id="r-1",
            amount=1126,
            currency="EUR",
            campaign_code="WELCOME10",
            refunded_at=DELIVERED_AT,
        )
        state = spec.given(*given).when(record).then(refunded)
        assert (state.authorised, state.captured, state.refunded) == (5490, 5490, 1126)
        spec.given(*given, refunded).when(record).then()

    def test_the_capture_is_recorded_once(self):
        spec.given(*history()).when(RecordCapture(order_id=ORDER, amount=5490, at=T0)).then()


class TestAnAuthorisationAboutToExpire:
    def test_is_shown_on_a_confirmed_order_once_and_not_after_the_parcel_left(self):
        expires_at = T0 + timedelta(days=7)
        flag = FlagAuthorisationExpiring(order_id=ORDER, expires_at=expires_at, at=T0 + timedelta(days=6))
        expiring = OrderPaymentExpiring(order_id=ORDER, expires_at=expires_at, noticed_at=flag.at)
        state = spec.given(*history()[:2]).when(flag).then(expiring)
        assert state.authorisation_expires_at == expires_at
        spec.given(*history()[:2], expiring).when(flag).then()
        spec.given(*history()[:3]).when(flag).then()  # shipped meanwhile


class TestTheRefundRule:
    def test_a_return_refunds_its_price_less_its_share_of_the_discount(self):
        lines = (TEA, MUG)
        assert refunded_for(lines, 554, 495, {"SKU-MUG-001": 1}) == 1799 - 554 * 1799 // 5549
        # everything back: the whole total, shipping included
        assert refunded_for(lines, 554, 495, {"SKU-TEA-001": 3, "SKU-MUG-001": 1}) == 5549 - 554 + 495

    def test_the_rounding_is_over_everything_returned_so_far(self):
        one_tea = refund_of_return((TEA,), 100, 0, {}, {"SKU-TEA-001": 1})
        two_teas = refund_of_return((TEA,), 100, 0, {"SKU-TEA-001": 1}, {"SKU-TEA-001": 1})
        last_tea = refund_of_return((TEA,), 100, 0, {"SKU-TEA-001": 2}, {"SKU-TEA-001": 1})
        assert (one_tea, two_teas, last_tea) == (1217, 1217, 1216)  # 33.33 each of the 100 off, in cents
        assert one_tea + two_teas + last_tea == 3750 - 100


@st.composite
def orders_and_returns(draw: st.DrawFn) -> tuple[list, list[list[tuple[str, int]]]]:
    count = draw(st.integers(1, 4))
    lines = tuple(
        OrderLine(sku=f"SKU-{i}", name=f"Item {i}", quantity=q, unit_price=p, line_total=q * p)
        for i, (q, p) in enumerate(
            draw(
                st.lists(st.tuples(st.integers(1, 5), st.integers(0, 20_000)), min_size=count, max_size=count)
            )
        )
    )
    subtotal = sum(line.line_total for line in lines)
    discount = draw(st.integers(0, subtotal))
    shipping = draw(st.sampled_from([0, 495, 995]))
    # the units one by one, shuffled, then cut into returns of one or more units each
    units = [line.sku for line in lines for _ in range(line.quantity)]
    units = draw(st.permutations(units))
    returned = draw(st.integers(0, len(units)))
    cuts = sorted(draw(st.sets(st.integers(1, max(returned - 1, 1)), max_size=max(returned - 1, 0))))
    returns, start = [], 0
    for cut in [*(c for c in cuts if c < returned), returned]:
        if cut > start:
            chunk: dict[str, int] = {}
            for sku in units[start:cut]:
                chunk[sku] = chunk.get(sku, 0) + 1
            returns.append(sorted(chunk.items()))
            start = cut
    return history(lines, discount, shipping), returns


@settings(max_examples=150, deadline=None)
@given(orders_and_returns())
def test_refunds_follow_the_rule_never_exceed_the_capture_and_a_whole_return_refunds_it(case):
    events, returns = case
    state: Order = order_decider.fold(events, None)
    capture = state.captured
    refunds = []
    for index, lines in enumerate(returns):
        before = state.received_back()
        for command in (
            ask(f"r-{index}", *lines),
            receive(f"r-{index}", *((sku, quantity, "sellable") for sku, quantity in lines)),
        ):
            state = order_decider.fold(order_decider.decide(command, state), state)
        refund = state.returns[-1].refund
        # each refund is the documented proration of what it returned, after what came back before it
        assert refund == refund_of_return(state.lines, state.discount, state.shipping, before, dict(lines))
        assert refund >= 0
        refunds.append(refund)
        assert sum(refunds) <= capture
    everything = sum(q for lines in returns for _, q in lines) == sum(line.quantity for line in state.lines)
    if everything:
        assert sum(refunds) == capture
