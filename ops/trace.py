"""An order's whole story, across every bounded context's event log, in time order.

Every event log of the stack (a table keyed `stream` S / `version` N) is read: the order's own stream
(`Order-<id>`, one Query), then one paginated Scan per log for the commits whose events mention the order
id (a payment's, a reservation's, a shipment's: their data carries `order_id`) or that share a correlation
id with what was found so far; a second pass follows correlation ids first seen in the first. On AWS a Scan
reads the whole table (read units for all of it, eventually consistent: half a unit per 4 KB), so it is
bounded by `max_pages` and reports progress per page. Log lines of the same correlation ids come from the
functions' log groups (CloudWatch Logs `FilterLogEvents`) or, locally, from a file of JSON lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventcore.write.dynamodb_store import commit_from_item

if TYPE_CHECKING:
    from eventcore.write.store import Commit
    from ops.target import Target

Progress = Callable[[str], None]
MAX_IN_OPERANDS = 99  # DynamoDB allows 100 operands in one IN; one is the order id's `contains`


@dataclass(frozen=True, slots=True)
class StoryEvent:
    at: str
    log: str  # the event log's logical id: the bounded context
    stream: str
    version: int
    event_type: str
    schema_version: int
    event_id: str
    command_id: str
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any]


@dataclass
class Story:
    order_id: str
    events: list[StoryEvent] = field(default_factory=list)
    log_lines: list[dict[str, Any]] = field(default_factory=list)
    pages_read: int = 0
    truncated: bool = False  # a Scan stopped at max_pages: the story may miss commits

    @property
    def correlation_ids(self) -> list[str]:
        return sorted({e.correlation_id for e in self.events if e.correlation_id})


def trace(target: Target, order_id: str, *, max_pages: int = 1000, progress: Progress | None = None) -> Story:
    say = progress or (lambda message: None)
    story = Story(order_id)
    logs = target.shape.event_logs()
    commits: dict[tuple[str, str, int], Commit] = {}
    for log in logs:
        for commit in _query_stream(target, target.table(log), f"Order-{order_id}"):
            commits[(log, commit.stream_id, commit.version)] = commit
    correlations = {c.correlation_id for c in commits.values() if c.correlation_id}
    followed: set[str] = set()
    for _ in range(2):
        wanted = sorted(correlations - followed)[:MAX_IN_OPERANDS]
        for log in logs:
            for commit in _scan(
                target, log, order_id if not followed else None, wanted, story, max_pages, say
            ):
                commits[(log, commit.stream_id, commit.version)] = commit
        followed |= set(wanted)
        correlations |= {c.correlation_id for c in commits.values() if c.correlation_id}
        if correlations <= followed:
            break
    for (log, _, _), commit in commits.items():
        for offset, event in enumerate(commit.events):
            story.events.append(
                StoryEvent(
                    at=event.recorded_at,
                    log=log,
                    stream=commit.stream_id,
                    version=commit.version + offset,
                    event_type=event.event_type,
                    schema_version=event.schema_version,
                    event_id=event.event_id,
                    command_id=commit.command_id,
                    correlation_id=commit.correlation_id,
                    causation_id=commit.causation_id,
                    data=event.payload(),
                )
            )
    story.events.sort(key=lambda e: (e.at, e.stream, e.version))
    return story


def _query_stream(target: Target, table: str, stream: str) -> Iterable[Commit]:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#stream = :stream",
        "ExpressionAttributeNames": {"#stream": "stream"},
        "ExpressionAttributeValues": {":stream": {"S": stream}},
    }
    for page in target.client("dynamodb").get_paginator("query").paginate(**request):
        for item in page.get("Items", []):
            yield commit_from_item(item)


def _scan(
    target: Target,
    log: str,
    mentioning: str | None,
    correlation_ids: list[str],
    story: Story,
    max_pages: int,
    say: Progress,
) -> Iterable[Commit]:
    clauses, values = [], {}
    if mentioning:
        clauses.append("contains(events, :order)")
        values[":order"] = {"S": mentioning}
    if correlation_ids:
        names = [f":c{i}" for i in range(len(correlation_ids))]
        clauses.append(f"correlation_id IN ({', '.join(names)})")
        values.update({name: {"S": value} for name, value in zip(names, correlation_ids, strict=True)})
    if not clauses:
        return
    request = {
        "TableName": target.table(log),
        "FilterExpression": " OR ".join(clauses),
        "ExpressionAttributeValues": values,
        "ProjectionExpression": "#stream, #version, events, command_id, correlation_id, causation_id",
        "ExpressionAttributeNames": {"#stream": "stream", "#version": "version"},
    }
    for page_number, page in enumerate(
        target.client("dynamodb").get_paginator("scan").paginate(**request), 1
    ):
        story.pages_read += 1
        scanned, matched = page.get("ScannedCount", 0), page.get("Count", 0)
        say(f"{log}: scanned page {page_number} ({scanned} commits, {matched} match)")
        for item in page.get("Items", []):
            yield commit_from_item({"fingerprint": {"S": ""}, "committed_at": {"S": ""}, **item})
        if page_number >= max_pages and "LastEvaluatedKey" in page:
            story.truncated = True
            say(f"{log}: stopped after {max_pages} pages (--max-pages): the story may be incomplete")
            return


def log_lines_from_file(path: Path, story: Story) -> list[dict[str, Any]]:
    """The JSON log lines (Powertools Logger) of the story's correlation ids or naming the order."""
    wanted = set(story.correlation_ids)
    lines = []
    with path.open(errors="replace") as handle:
        for raw in handle:
            if not raw.startswith("{"):
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("correlation_id") in wanted or line.get("order_id") == story.order_id:
                lines.append(line)
    return sorted(lines, key=lambda line: str(line.get("timestamp", "")))


def log_lines_from_cloudwatch(
    target: Target, story: Story, *, max_pages: int = 20, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """FilterLogEvents on every function's log group, for the story's correlation ids, over its time span."""
    from datetime import datetime

    if not story.events or not story.correlation_ids:
        return []
    say = progress or (lambda message: None)
    started = datetime.fromisoformat(story.events[0].at.replace("Z", "+00:00")).timestamp()
    ended = datetime.fromisoformat(story.events[-1].at.replace("Z", "+00:00")).timestamp()
    ids = story.correlation_ids[:20]  # a filter pattern has a size limit; the first ids tell the story
    pattern = "{ " + " || ".join(f'($.correlation_id = "{value}")' for value in ids) + " }"
    client = target.client("logs")
    lines: list[dict[str, Any]] = []
    for function in target.shape.functions:
        group = target.log_group(function)
        paginator = client.get_paginator("filter_log_events")
        try:
            pages = paginator.paginate(
                logGroupName=group,
                filterPattern=pattern,
                startTime=int((started - 300) * 1000),
                endTime=int((ended + 3600) * 1000),
                PaginationConfig={"MaxItems": 10_000},
            )
            for page_number, page in enumerate(pages, 1):
                for event in page.get("events", []):
                    try:
                        lines.append(json.loads(event["message"]))
                    except ValueError:
                        lines.append({"message": event["message"], "timestamp": event["timestamp"]})
                if page_number >= max_pages:
                    break
        except client.exceptions.ResourceNotFoundException:
            continue
        say(f"logs: {group} read")
    return sorted(lines, key=lambda line: str(line.get("timestamp", "")))
