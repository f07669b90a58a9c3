"""What counts as card data where the payment method's token belongs (orders/payment_methods.py)."""

from __future__ import annotations

import pytest

from orders.payment_methods import looks_like_card_number


@pytest.mark.parametrize(
    "value",
    [
        "4242424242424242",  # Luhn-valid
        "4242424242424241",  # not Luhn-valid: still card data
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "378282246310005",  # 15 digits (American Express)
        "6011 0009 9013 9424 123",  # 19 digits
        "pm_4242424242424242",  # hidden in a token's shape
        4242424242424242,  # sent as a number
    ],
)
def test_card_numbers_are_recognised_whatever_their_form(value: object) -> None:
    assert looks_like_card_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "pm_card_visa",
        "pm_1MqLiJLkdIwHu7ixUEgbFdhF",
        "424242424242",
        "12 34 56",
        "pm_card_flaky",
        42,
        True,
        None,
    ],
)
def test_tokens_and_short_numbers_are_not(value: object) -> None:
    assert not looks_like_card_number(value)
