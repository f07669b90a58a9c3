"""A WSGI app served on a daemon thread: what the HTTP gateway and the moto server both are."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from werkzeug.serving import WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BackgroundServer"]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # the local cloud reports invocations itself, one line each


class BackgroundServer:
    """Binds at construction (port 0 picks a free one, read back from `port`); serves once started."""

    def __init__(self, app: Callable[..., Any], host: str, port: int, name: str) -> None:
        self.host = host
        self._server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.port
        # A short poll interval: shutdown() waits for the loop to look, and the local cloud stops two servers.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
