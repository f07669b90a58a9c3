"""Where a SKU's stock is kept: in `buckets` buckets, each a Stock aggregate of its own (its own stream and
its own FIFO message group), so a flash sale on one SKU is decided by several writers at once. Pure.

Bucket 0 is the aggregate `<sku>` (the one stream a SKU had before buckets), bucket b the aggregate
`<sku>#<b>`. An order's reservation is made in its home bucket (a stable hash of the order id over the
number of buckets); a bucket that cannot serve its reservations takes units from its siblings, the move
recorded as facts in both buckets together (`plan_moves`)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


def bucket_id(sku: str, bucket: int) -> str:
    """The Stock aggregate id of the bucket, which is also the FIFO message group of its commands."""
    return sku if bucket == 0 else f"{sku}#{bucket}"


def parse_bucket_id(value: str) -> tuple[str, int]:
    """(sku, bucket) from `bucket_id`'s answer (a SKU never holds '#')."""
    sku, _, bucket = value.partition("#")
    return sku, int(bucket) if bucket else 0


def home_bucket(order_id: str, buckets: int) -> int:
    """The bucket an order's reservations are made in: the same on every container and every run."""
    digest = hashlib.blake2b(order_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


def shares(units: int, buckets: int) -> list[int]:
    """`units` spread over `buckets` as evenly as whole units go, the remainder to the first buckets."""
    whole, remainder = divmod(units, buckets)
    return [whole + (1 if bucket < remainder else 0) for bucket in range(buckets)]


def plan_moves(short: int, available: Mapping[int, int], buckets: int) -> list[tuple[int, int]]:
    """The moves (donor bucket, units) that give a bucket `short` units it lacks, from its siblings'
    `available` units: the shortfall and, beyond it, the bucket's even share of what is left (so it does not
    come back for more at the next batch), the richest siblings first. A bucket beyond the current layout
    (`buckets`, after the SKU was split into fewer) takes no new reservations: all it has is taken. Fewer
    units than `short` when the siblings together have fewer."""
    retired = sum(units for donor, units in available.items() if donor >= buckets)
    free = sum(available.values())
    want = min(free, short + retired + max(0, free - short - retired) // buckets)
    moves: list[tuple[int, int]] = []
    for donor, units in sorted(available.items(), key=lambda kv: (kv[0] < buckets, -kv[1], kv[0])):
        take = min(units, want)
        if take > 0:
            moves.append((donor, take))
            want -= take
    return moves
