"""The console's JSON API: what the page shows, read from the running local cloud and from moto."""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from localcloud.output import outcome_of

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from localcloud.cloud import LocalCloud
    from localcloud.workers import Invocation

__all__ = ["ConsoleApi", "EventLog", "event_logs", "story"]

STATIC = Path(__file__).parent
STATIC_FILES = {
    "": "index.html",
    "index.html": "index.html",
    "console.js": "console.js",
    "console.css": "console.css",
}


@dataclass(frozen=True)
class EventLog:
    """A table recognised as an event log: key `stream` (S, hash) + `version` (N, range)."""

    logical_id: str
    table: str


def event_logs(cloud: LocalCloud) -> list[EventLog]:
    found = []
    for logical_id, resource in cloud.stack.of_type("AWS::DynamoDB::Table").items():
        properties = resource.get("Properties", {})
        keys = {key["AttributeName"]: key["KeyType"] for key in properties.get("KeySchema", [])}
        types = {a["AttributeName"]: a["AttributeType"] for a in properties.get("AttributeDefinitions", [])}
        if (
            keys == {"stream": "HASH", "version": "RANGE"}
            and types.get("stream") == "S"
            and types.get("version") == "N"
        ):
            found.append(EventLog(logical_id, cloud.physical_id(logical_id)))
    return found


def _commits(cloud: LocalCloud, log: EventLog) -> list[dict[str, Any]]:
    commits = []
    for page in cloud.client("dynamodb").get_paginator("scan").paginate(TableName=log.table):
        for item in page["Items"]:
            try:
                events = json.loads(item.get("events", {}).get("S", "[]"))
            except ValueError:
                events = []
            commits.append(
                {
                    "log": log.logical_id,
                    "stream": item["stream"]["S"],
                    "version": int(item["version"]["N"]),
                    "events": events if isinstance(events, list) else [],
                    "command_id": item.get("command_id", {}).get("S"),
                    "correlation_id": item.get("correlation_id", {}).get("S"),
                    "causation_id": item.get("causation_id", {}).get("S"),
                    "committed_at": item.get("committed_at", {}).get("S"),
                }
            )
    return commits


def _contains(value: Any, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value
    if isinstance(value, dict):
        return any(_contains(item, needle) for item in value.values())
    if isinstance(value, list):
        return any(_contains(item, needle) for item in value)
    return needle == str(value)


def story(cloud: LocalCloud, needle: str) -> dict[str, Any]:
    """Every commit whose stream id or event data holds `needle`, and every commit sharing a correlation id
    with one of those, across every event log, oldest first: one id's story across the contexts."""
    needle = needle.strip()
    logs = event_logs(cloud)
    commits = [commit for log in logs for commit in _commits(cloud, log)]
    if not needle:
        return {"logs": [log.logical_id for log in logs], "commits": []}
    direct = [
        commit
        for commit in commits
        if needle in commit["stream"]
        or any(_contains(event.get("data"), needle) for event in commit["events"])
    ]
    correlations = {commit["correlation_id"] for commit in direct if commit["correlation_id"]}
    if needle in {commit["correlation_id"] for commit in commits}:
        correlations.add(needle)
    chosen = {(c["log"], c["stream"], c["version"]): c for c in direct}
    for commit in commits:
        if commit["correlation_id"] in correlations:
            chosen.setdefault((commit["log"], commit["stream"], commit["version"]), commit)

    def when(commit: dict[str, Any]) -> str:
        first = commit["events"][0].get("at") if commit["events"] else None
        return str(commit["committed_at"] or first or "")

    ordered = sorted(chosen.values(), key=lambda commit: (when(commit), commit["version"]))
    return {"logs": [log.logical_id for log in logs], "commits": ordered}


def _invocation_row(invocation: Invocation) -> dict[str, Any]:
    return {
        "sequence": invocation.sequence,
        "started": invocation.started,
        "function": invocation.function,
        "trigger": invocation.trigger,
        "status": invocation.status,
        "outcome": outcome_of(invocation),
        "duration_ms": round(invocation.duration_ms, 1),
        "batch_size": invocation.batch_size,
        "cold": invocation.cold,
        "reference": invocation.reference or invocation.correlation_id or "",
        "error": (invocation.error or {}).get("errorMessage"),
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status=status, content_type="application/json")


class ConsoleApi:
    """Serves /_localcloud/console/ (the page) and /_localcloud/api/... (its data)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud

    def handle(self, path: str, request: Request) -> Response | None:
        if path == "console":
            return Response(status=308, headers={"Location": "/_localcloud/console/"})
        if path.startswith("console/"):
            name = STATIC_FILES.get(path[len("console/") :])
            if name is None:
                return None
            content_type = mimetypes.guess_type(name)[0] or "text/plain"
            return Response((STATIC / name).read_bytes(), content_type=f"{content_type}; charset=utf-8")
        if path == "api/overview":
            return _json(self.overview())
        if path == "api/invocations":
            after = int(request.args.get("after", "0"))
            rows = [_invocation_row(i) for i in self._cloud.invocations if i.sequence > after]
            return _json({"invocations": rows[-200:]})
        if path == "api/story":
            return _json(story(self._cloud, request.args.get("id", "")))
        if path.startswith("api/dlq/") and path.endswith("/redrive") and request.method == "POST":
            name = path[len("api/dlq/") : -len("/redrive")]
            moved = self._cloud.dead_letters.redrive(name)
            return _json({"moved": moved})
        if path.startswith("api/schedules/") and path.endswith("/fire") and request.method == "POST":
            name = path[len("api/schedules/") : -len("/fire")]
            if self._cloud.scheduler is None or name not in self._cloud.scheduler.schedules:
                return _json({"message": f"no schedule {name!r}"}, 404)
            self._cloud.scheduler.fire_now(name)
            return _json({"fired": name})
        return None

    def overview(self) -> dict[str, Any]:
        cloud = self._cloud
        functions = [
            {
                "logical_id": logical_id,
                "name": spec.name,
                "handler": spec.handler,
                "timeout": spec.timeout,
                "ready": cloud.functions[logical_id].ready,
                "workers": cloud.functions[logical_id].workers,
            }
            for logical_id, spec in cloud.functions.specs.items()
        ]
        triggers = []
        for poller in cloud.pollers:
            try:
                lag: int | None = poller.lag
            except Exception:
                lag = None
            triggers.append({"trigger": poller.trigger, "function": poller.function, "lag": lag})
        schedules = []
        if cloud.scheduler is not None:
            for schedule in cloud.scheduler.schedules.values():
                schedules.append(
                    {
                        "name": schedule.name,
                        "expression": schedule.expression,
                        "next": schedule.next_at.isoformat() if schedule.next_at else None,
                        "fired": schedule.fired,
                    }
                )
        routes = [
            {
                "route": route.display,
                "function": route.function_arn.rsplit(":", 1)[-1],
                "auth": route.authorizer.kind if route.authorizer else "open",
                "scopes": list(route.scopes),
            }
            for route in (cloud.gateway.routes if cloud.gateway else [])
        ]
        return {
            "template": str(cloud.template_path),
            "region": cloud.region,
            "state": str(cloud.state.path) if cloud.state else None,
            "functions": functions,
            "triggers": triggers,
            "schedules": schedules,
            "routes": routes,
            "dead_letter_queues": cloud.dead_letters.depths(),
            "event_logs": [log.logical_id for log in event_logs(cloud)],
        }
