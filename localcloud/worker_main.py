"""What runs inside a function's worker process: set up its environment, import the handler, serve invokes.

Kept apart from workers.py so that the child imports as little as possible of the local cloud itself.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any

from localcloud.context import LambdaContext

if TYPE_CHECKING:
    from multiprocessing.connection import Connection


def run_worker(conn: Connection) -> None:
    """Init phase (environment, path, handler import), then one invocation per message until told to stop."""
    # Ctrl-C reaches the whole process group; the local cloud itself decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup = conn.recv()
    os.environ.update(setup["environment"])
    sys.path[:0] = setup["paths"]
    os.chdir(setup["paths"][0])
    try:
        module_name, _, function_name = setup["handler"].rpartition(".")
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as exc:
        conn.send(("init_error", _error(exc, "Runtime.ImportModuleError")))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the local cloud went away: so does this worker
        if message is None:
            return
        request_id, event, timeout = message
        context = LambdaContext(
            function_name=setup["function_name"],
            function_version="$LATEST",
            invoked_function_arn=setup["function_arn"],
            memory_limit_in_mb=int(setup["memory_size"]),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{setup['function_name']}",
            log_stream_name=f"localcloud/{os.getpid()}",
            deadline_epoch=time.time() + timeout,
        )
        try:
            result = handler(event, context)
        except BaseException as exc:
            conn.send(("error", _error(exc, type(exc).__name__)))
            continue
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            # What Lambda does with a return value it cannot serialise.
            conn.send(("error", _error(exc, "Runtime.MarshalError")))
            continue
        conn.send(("ok", payload))


def _error(exc: BaseException, error_type: str) -> dict[str, Any]:
    return {
        "errorType": error_type,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


if __name__ == "__main__":
    from multiprocessing.connection import Connection as _Connection

    run_worker(_Connection(int(sys.argv[1])))
