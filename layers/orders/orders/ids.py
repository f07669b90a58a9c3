"""Order ids as the system hands them out: lower-case hyphenated UUIDs. Anything else names no order, and
is refused before it can reach DynamoDB (where an oversized key would be a server error, not a 404)."""

from __future__ import annotations

import re

ORDER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_order_id(value: object) -> bool:
    return isinstance(value, str) and ORDER_ID.fullmatch(value) is not None
