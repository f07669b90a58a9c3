"""Counters that survive redelivery: each event's contribution is added together with a marker keyed by the
event's id, in one transaction conditioned on the marker being absent. A redelivered event finds its marker
and adds nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from eventcore.errors import error_code

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MARKER_PREFIX = "event#"


@dataclass(frozen=True, slots=True)
class Contribution:
    """Amounts to add to the counters of one bucket, e.g. ("day#2026-11-26", "total#EUR", {"orders": 1})."""

    pk: str
    sk: str
    amounts: Mapping[str, int]


class IdempotentCounters:
    """Counters in one DynamoDB table keyed (pk S, sk S); markers live in the same table, expiring after
    `marker_ttl_seconds` (longer than any redelivery or replay window of the source stream)."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        marker_ttl_seconds: int = 30 * 24 * 3600,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._ttl = marker_ttl_seconds

    def add(self, event_id: str, contributions: Sequence[Contribution]) -> bool:
        """Add the event's contributions once. False when the event was already counted."""
        if not contributions:
            return False
        marker: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table_name,
                "Item": {
                    "pk": {"S": f"{MARKER_PREFIX}{event_id}"},
                    "sk": {"S": "counted"},
                    "expires_at": {"N": str(int(time.time()) + self._ttl)},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        updates: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"pk": {"S": c.pk}, "sk": {"S": c.sk}},
                    "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(c.amounts))),
                    "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(c.amounts)},
                    "ExpressionAttributeValues": {
                        f":a{i}": {"N": str(amount)} for i, amount in enumerate(c.amounts.values())
                    },
                }
            }
            for c in contributions
        ]
        try:
            self._client.transact_write_items(TransactItems=[marker, *updates])
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            first = reasons[0].get("Code") if reasons else None  # the marker's put, first in the transaction
            if error_code(exc) == "TransactionCanceledException" and first == "ConditionalCheckFailed":
                return False  # the marker exists: counted before
            raise
        return True
