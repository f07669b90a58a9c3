"""What a return refunds, in minor units, by one rule (docs/payments.md, "What a return refunds"):

    refunded(R) = value(R) - floor(discount * value(R) / subtotal) + (shipping if R is the whole order)

where R is everything received back from the order so far (every return together) and value(R) what its
units cost before the discount. A return refunds refunded(before + it) - refunded(before): its goods'
price less their share of the discount, rounded down over everything returned so far, so the rounding
never drifts; the shipping goes back with the last unit. Every refund is >= 0, the refunds of an order add up
to refunded(R) <= the order's total (discount <= subtotal), and a whole order returned, in any number of
returns in any order, refunds exactly its total: what was captured when it shipped. Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from orders.pricing import OrderLine


def value_of(lines: Sequence[OrderLine], quantities: Mapping[str, int]) -> int:
    """What `quantities` (sku -> units) of the order's lines cost before the discount."""
    prices = {line.sku: line.unit_price for line in lines}
    return sum(prices[sku] * quantity for sku, quantity in quantities.items())


def refunded_for(
    lines: Sequence[OrderLine], discount: int, shipping: int, returned: Mapping[str, int]
) -> int:
    """refunded(R): what everything in `returned` (sku -> units received back so far) refunds in all."""
    subtotal = sum(line.line_total for line in lines)
    value = value_of(lines, returned)
    share = discount * value // subtotal if subtotal else 0
    everything = all(returned.get(line.sku, 0) >= line.quantity for line in lines)
    return value - share + (shipping if everything else 0)


def refund_of_return(
    lines: Sequence[OrderLine],
    discount: int,
    shipping: int,
    before: Mapping[str, int],
    returning: Mapping[str, int],
) -> int:
    """What one return refunds: `returning` received back after `before` (both sku -> units)."""
    after = dict(before)
    for sku, quantity in returning.items():
        after[sku] = after.get(sku, 0) + quantity
    return refunded_for(lines, discount, shipping, after) - refunded_for(lines, discount, shipping, before)
