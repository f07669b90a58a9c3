"""Bucket event notifications to queues and topics: an `AWS::S3::Bucket`'s NotificationConfiguration, which
moto's CloudFormation ignores (checked with moto 5.2.5: the bucket is created without it), applied through
S3's API once the stack exists. moto's S3 then sends the notifications itself, as S3 does: an `s3:TestEvent`
when a configuration is set, then a record per matching event. A configuration already in place (a resumed
state) is left alone, so a restart sends no second test event.

Notifications to functions (LambdaConfigurations, SAM's S3 event) and to EventBridge are not emulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.stack import Stack

__all__ = ["apply_bucket_notifications"]

# CloudFormation's name of each kind of notification, and of its target, to S3's API names.
KINDS = {"QueueConfigurations": ("Queue", "QueueArn"), "TopicConfigurations": ("Topic", "TopicArn")}


def apply_bucket_notifications(
    stack: Stack, client: Callable[[str], Any], say: Callable[[str], None]
) -> None:
    for logical_id in stack.of_type("AWS::S3::Bucket"):
        if logical_id not in stack.physical_ids:
            continue
        notifications = stack.properties(logical_id).get("NotificationConfiguration") or {}
        wanted = notification_configuration(notifications)
        skipped = sorted(set(notifications) - set(KINDS))
        if skipped:
            say(f"[localcloud] {logical_id}: bucket notifications {skipped} are not emulated; skipped")
        if not wanted:
            continue
        s3, bucket = client("s3"), stack.physical_ids[logical_id]
        current = s3.get_bucket_notification_configuration(Bucket=bucket)
        if _comparable(current) != _comparable(wanted):
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)


def notification_configuration(notifications: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration (resolved) as S3's PutBucketNotificationConfiguration takes
    it: `{Event, Queue, Filter: {S3Key: {Rules}}}` to `{Events, QueueArn, Filter: {Key: {FilterRules}}}`."""
    configuration: dict[str, Any] = {}
    for kind, (target, arn_name) in KINDS.items():
        entries = []
        for entry in notifications.get(kind) or []:
            converted: dict[str, Any] = {arn_name: entry[target], "Events": [entry["Event"]]}
            rules = (entry.get("Filter") or {}).get("S3Key", {}).get("Rules")
            if rules:
                converted["Filter"] = {"Key": {"FilterRules": [dict(rule) for rule in rules]}}
            entries.append(converted)
        if entries:
            configuration[kind] = entries
    return configuration


def _comparable(configuration: dict[str, Any]) -> dict[str, Any]:
    """A configuration without what S3 adds (ids, response metadata), rule names in one case."""
    comparable: dict[str, Any] = {}
    for kind in KINDS:
        entries = []
        for entry in configuration.get(kind) or []:
            entry = {key: value for key, value in entry.items() if key != "Id"}
            rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules")
            if rules:
                entry["Filter"] = {
                    "Key": {"FilterRules": [{**rule, "Name": rule["Name"].lower()} for rule in rules]}
                }
            entries.append(entry)
        if entries:
            comparable[kind] = sorted(entries, key=repr)
    return comparable
