"""moto in this process, behind one lock, with a signal after every write so pollers wake at once.

Every request is serialised: moto's conditional writes are not atomic under concurrent requests (two
`PutItem ... attribute_not_exists` could both win), while real DynamoDB's are. State lives in memory.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

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
    """A counter of writes that pollers can wait on: `wait(seen, timeout)` returns once it passes `seen`."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.generation = 0

    def notify(self) -> None:
        with self._condition:
            self.generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        with self._condition:
            self._condition.wait_for(lambda: self.generation != seen, timeout=timeout)
            return self.generation


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class MotoServer:
    """moto's WSGI app on 127.0.0.1, every request under one lock."""

    def __init__(self, host: str = "127.0.0.1", port: int = 4566, signal: WriteSignal | None = None) -> None:
        self.host = host
        self.signal = signal or WriteSignal()
        self._lock = threading.Lock()
        self._app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(host, port, self._serialised, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.port
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _serialised(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operation = _operation(environ)
        with self._lock:
            # The body is built inside the lock too: moto may compute it lazily from shared state.
            body = list(self._app(environ, start_response))
        if operation.startswith(WRITE_OPERATIONS):
            self.signal.notify()
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
