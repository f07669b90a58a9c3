"""The payment method an order names: the provider's token for it (`pm_...`, what the client got from the
provider's own form), never card data. Anything that looks like a card number, whether it passes the Luhn
check or not (a mistyped card is still card data), is refused before the request goes anywhere: 13 to 19
digits in a row, single spaces or dashes between them allowed, anywhere in the value, sent as text or as a
number. The refusal names the field and never repeats the value (docs/payments.md)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

CARD_NUMBER = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
TOKEN_PATTERN = r"^pm_[A-Za-z0-9_]{1,96}$"
CARD_DATA_REFUSED = "card_number"  # the pydantic error type of a refused card number


def looks_like_card_number(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return isinstance(value, str) and CARD_NUMBER.search(value) is not None


def _refuse_card_data(value: Any) -> Any:
    if looks_like_card_number(value):
        raise PydanticCustomError(
            CARD_DATA_REFUSED,
            "looks like a card number: card data is never taken; send the payment method's token from the "
            "payment provider (pm_...)",
        )
    return value


PaymentMethodToken = Annotated[
    str,
    BeforeValidator(_refuse_card_data),
    Field(
        pattern=TOKEN_PATTERN,
        description="The payment provider's token for the customer's payment method (`pm_...`), never card "
        "data: a value that looks like a card number is refused (400). Omitted: the customer's card on file.",
        examples=["pm_card_visa"],
    ),
]
