"""moto in this process, behind one lock, with a signal after every write so pollers wake at once.

Every request is serialised: moto's conditional writes are not atomic under concurrent requests (two
`PutItem ... attribute_not_exists` could both win), while real DynamoDB's are. State lives in memory.

The functions' workers reach moto over HTTP, as an SDK reaches AWS. The local cloud's own clients (the
triggers' pollers, the console, tests) live in moto's process and skip the socket: `connect` hands their
requests to the same app, under the same lock and signal. On 2 cores this process is the bottleneck, and
HTTP (a connection and a thread per request: werkzeug closes every connection) is over half of what an
empty GetRecords costs.
"""

from __future__ import annotations

import io
import json
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse
from moto import backends
from moto.core.botocore_stubber import MockRawResponse
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.test import EnvironBuilder

from localcloud.serving import BackgroundServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from botocore.awsrequest import AWSPreparedRequest

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


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, with its commonest answer found without I/O: for a host that names a moto module
    (what our clients' requests resolve to), moto's own lists its package folder and stats every entry
    (about 180 calls) on every request, a third of what an empty GetRecords cost. Any other host: moto's."""

    _modules = frozenset(backends.list_of_moto_modules())

    def get_backend_for_host(self, host: str | None) -> Any:
        if host in self._modules:
            return host
        return super().get_backend_for_host(host)


class MotoServer(BackgroundServer):
    """moto's WSGI app on 127.0.0.1, every request under one lock."""

    def __init__(self, host: str = "127.0.0.1", port: int = 4566, signal: WriteSignal | None = None) -> None:
        self.signal = signal or WriteSignal()
        self.lock = threading.Lock()
        self._app = _Dispatcher(create_backend_app)
        super().__init__(self._serialised, host, port, name="moto")

    @property
    def endpoint_url(self) -> str:
        return self.url

    def connect(self, client: Any) -> Any:
        """Serve a boto3 client of this process without HTTP: botocore's `before-send` event (what moto's
        own mock uses) hands each signed request to the app, which answers as it would over the socket."""
        client.meta.events.register("before-send", self._send_in_process)
        return client

    def _send_in_process(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body: Any = request.body
        if hasattr(body, "read"):
            body = body.read()
        headers = [
            (str(name), value.decode() if isinstance(value, bytes) else str(value))
            for name, value in request.headers.items()
        ]
        environ = EnvironBuilder(
            method=request.method,
            base_url=f"{url.scheme}://{url.netloc}",
            path=url.path,
            query_string=url.query,
            headers=headers,
            data=body.encode() if isinstance(body, str) else bytes(body or b""),
        ).get_environ()
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)
            return lambda data: None

        content = b"".join(self._serialised(environ, start_response))
        return AWSResponse(request.url, answer["status"], answer["headers"], MockRawResponse(content))

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
