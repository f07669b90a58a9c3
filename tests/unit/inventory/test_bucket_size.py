"""A bucket's state stays within DynamoDB's item limit while 50,000 orders hold the SKU, spread over 8
buckets by their home bucket: the commit that carries the fullest bucket's snapshot (with a batch of
events, its members and a full idempotency window) is under 400 KB. One bucket could not keep them all."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

from eventcore import Commit, Member, commit_to_item
from eventcore.write.dynamodb_store import ITEM_SIZE_LIMIT, item_size
from eventcore.write.runner import WINDOW_LIMIT
from inventory import Stock, StockReserved, home_bucket, stock_decider, stock_events

HOLDERS = 50_000
BUCKETS = 8
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def snapshot_commit(holders: list[str]) -> Commit:
    """The commit a bucket holding `holders` writes when its snapshot is due: what the runner writes."""
    state = Stock(
        sku="SKU-DROP-001",
        bucket=7,
        layouts=(BUCKETS,),
        on_hand=len(holders) + 100,
        reservations=dict.fromkeys(holders, 1),
        updated_at=NOW,
    )
    window = {
        f"ReserveStock:{uuid.uuid4()}:SKU-DROP-001": ["f" * 32, v, v, NOW.isoformat()]
        for v in range(WINDOW_LIMIT)
    }
    events = [
        stock_events.encode(
            StockReserved(sku="SKU-DROP-001", order_id=str(uuid.uuid4()), quantity=1, reserved_at=NOW),
            event_id=str(uuid.uuid4()),
            recorded_at=NOW.isoformat(),
        )
        for _ in range(10)
    ]
    return Commit(
        stream_id="Stock-SKU-DROP-001#7",
        version=100_000,
        events=tuple(events),
        command_id=f"StockBatch:SKU-DROP-001%237:{uuid.uuid4()}",
        fingerprint="f" * 32,
        committed_at=NOW.isoformat(),
        correlation_id="c" * 20,
        snapshot={
            "schema": stock_decider.state_schema,
            "state": stock_decider.dump_state(state),
            "commands": window,
            "complete": False,
        },
        members=tuple(Member(f"ReserveStock:{uuid.uuid4()}:SKU-DROP-001", "f" * 32, v, v) for v in range(10)),
    )


def test_the_fullest_of_eight_buckets_with_fifty_thousand_holders_fits_in_an_item():
    orders = [str(uuid.uuid4()) for _ in range(HOLDERS)]
    per_bucket = Counter(home_bucket(order, BUCKETS) for order in orders)
    fullest, count = per_bucket.most_common(1)[0]
    holders = [order for order in orders if home_bucket(order, BUCKETS) == fullest]
    size = item_size(commit_to_item(snapshot_commit(holders)))
    assert count > HOLDERS / BUCKETS  # the hash spreads them, not perfectly
    assert size < ITEM_SIZE_LIMIT, f"{size} bytes for {count} holders"


def test_one_bucket_could_not_keep_fifty_thousand_holders():
    size = item_size(commit_to_item(snapshot_commit([str(uuid.uuid4()) for _ in range(HOLDERS)])))
    assert size > ITEM_SIZE_LIMIT
