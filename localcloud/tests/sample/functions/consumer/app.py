"""Sample consumer for every trigger type: notes each batch in the seen table, fails records on request.

A payload with `raise` fails the whole batch; `fail: always` fails the record every time; `fail_times: n`
fails it the first n times this worker sees it. On a FIFO queue, the messages after a failed one in the same
group are failed too (what Powertools' SqsFifoPartialProcessor does), so group order holds.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sampletools import payloads, seen_table

table = seen_table()
attempts: dict[str, int] = {}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    batch = payloads(event)
    groups = [record.get("attributes", {}).get("MessageGroupId") for record in event.get("Records", [])]
    failed = []
    failed_groups = set()
    for (identifier, payload), group in zip(batch, groups, strict=True):
        key = str(payload.get("id"))
        if group is not None and group in failed_groups:
            failed.append((identifier, key))  # FIFO: the rest of a failed group waits for its turn
            continue
        attempts[key] = attempts.get(key, 0) + 1
        if payload.get("fail") == "always" or attempts[key] <= int(payload.get("fail_times", 0)):
            failed.append((identifier, key))
            failed_groups.add(group)
    raising = any(payload.get("raise") for _, payload in batch)
    table.put_item(
        Item={
            "pk": str(uuid.uuid4()),
            "fn": context.function_name,
            "at": time.time_ns(),
            "ids": [str(payload.get("id")) for _, payload in batch],
            "failed": [key for _, key in failed],
            "raised": raising,
            "source": event["Records"][0]["eventSource"] if event.get("Records") else "none",
        }
    )
    if raising:
        raise RuntimeError("asked to fail the whole batch")
    return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier, _ in failed]}
