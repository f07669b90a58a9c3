"""Order and return ids as the system hands them out: lower-case hyphenated UUIDs. Anything else names no
order or return, and is refused before it can reach DynamoDB or a command's validation (where an oversized
value would be a server error, not a 404)."""

from __future__ import annotations

import re

ORDER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_order_id(value: object) -> bool:
    return isinstance(value, str) and ORDER_ID.fullmatch(value) is not None


def is_return_id(value: object) -> bool:
    return is_order_id(value)  # a uuid5 of the order, its customer and the request's key
