"""moto in this process, behind one lock, with a signal after every write so pollers wake at once.

Every request is serialised: moto's conditional writes are not atomic under concurrent requests (two
`PutItem ... attribute_not_exists` could both win), while real DynamoDB's are. State lives in memory.
"""

from __future__ import annotations

import io
import json
import threading
from typing import TYPE_CHECKING, Any

from moto.server import DomainDispatcherApplication, create_backend_app

from localcloud.serving import BackgroundServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["MotoServer", "WriteSignal"]

# Operations that add records to a stream or messages to a queue: after one, pollers look again at once.
WRITE_OPERATIONS = (
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "PutRecord",
    "PutRecords",
    "SendMessage",
    "SendMessageBatch",
    "ChangeMessageVisibility",
)


class WriteSignal:
    """Write counters that pollers wait on, one per resource name (table, stream or queue), so a write wakes
    only the pollers of what it wrote to: waking every poller on every write makes them all poll moto, which
    serialises everything, and latency collapses under load. A write whose target is unknown wakes all."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._everything = 0
        self._by_name: dict[str, int] = {}

    @property
    def total(self) -> int:
        """Every write counted so far: changes when anything was written."""
        return self._everything + sum(self._by_name.values())

    def generation(self, name: str) -> int:
        return self._everything + self._by_name.get(name, 0)

    def notify(self, names: Iterable[str] | None = None) -> None:
        with self._condition:
            if names is None:
                self._everything += 1
            else:
                for name in names:
                    self._by_name[name] = self._by_name.get(name, 0) + 1
            self._condition.notify_all()

    def wait(self, name: str, seen: int, timeout: float) -> int:
        with self._condition:
            self._condition.wait_for(lambda: self.generation(name) != seen, timeout=timeout)
            return self.generation(name)


def written_resources(body: bytes) -> set[str] | None:
    """The tables, streams and queues a write request names (JSON protocols), or None if it cannot tell."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None
    names = {
        resource_name(request[key])
        for key in ("TableName", "StreamName", "StreamARN", "QueueUrl")
        if key in request
    }
    names.update(request.get("RequestItems", {}))
    for item in request.get("TransactItems", []):
        names.update(action["TableName"] for action in item.values() if "TableName" in action)
    return names or None


def resource_name(identifier: str) -> str:
    """A table, stream or queue name from its name, ARN or queue URL."""
    if identifier.startswith("arn:"):
        resource = identifier.split(":", 5)[5]  # table/NAME[/stream/LABEL], stream/NAME, or NAME (a queue)
        parts = resource.split("/")
        return parts[1] if len(parts) > 1 else parts[0]
    return identifier.rstrip("/").rsplit("/", 1)[-1]


class MotoServer(BackgroundServer):
    """moto's WSGI app on 127.0.0.1, every request under one lock."""

    def __init__(self, host: str = "127.0.0.1", port: int = 4566, signal: WriteSignal | None = None) -> None:
        self.signal = signal or WriteSignal()
        self.lock = threading.Lock()
        self._app = DomainDispatcherApplication(create_backend_app)
        super().__init__(self._serialised, host, port, name="moto")

    @property
    def endpoint_url(self) -> str:
        return self.url

    def _serialised(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        is_write = _operation(environ).startswith(WRITE_OPERATIONS)
        written = None
        if is_write:
            request_body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(request_body)
            written = written_resources(request_body)
        with self.lock:
            # The body is built inside the lock too: moto may compute it lazily from shared state.
            body = list(self._app(environ, start_response))
        if is_write:
            self.signal.notify(written)
        return body


def _operation(environ: dict[str, Any]) -> str:
    """The API operation of a request: JSON protocols name it in X-Amz-Target, query protocols in Action."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rpartition(".")[2]
    query = environ.get("QUERY_STRING", "")
    for pair in query.split("&"):
        if pair.startswith("Action="):
            return pair[len("Action=") :]
    return ""
