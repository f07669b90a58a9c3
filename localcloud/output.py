"""Live output: one line per invocation, tracebacks under failed ones, lines never interleaved."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from localcloud.workers import Invocation

__all__ = ["Reporter"]


class Reporter:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.history: list[Invocation] = []  # every invocation, for tests and the invoke command
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            print(text, file=self.stream, flush=True)

    def invocation(self, invocation: Invocation) -> None:
        result = invocation.note or invocation.status
        stamp = time.strftime("%H:%M:%S", time.localtime(invocation.started))
        line = (
            f"{stamp} {invocation.function:<28} {invocation.trigger:<32} batch={invocation.batch_size:<3} "
            f"{invocation.duration_ms:7.1f} ms  {result:<18} {'cold' if invocation.cold else 'warm'}"
        )
        with self._lock:
            self.history.append(invocation)
            print(line, file=self.stream, flush=True)
            if invocation.error:
                error = invocation.error
                print(f"    {error.get('errorType')}: {error.get('errorMessage')}", file=self.stream)
                for frame in error.get("stackTrace") or []:
                    print("    " + frame.rstrip().replace("\n", "\n    "), file=self.stream)
                self.stream.flush()
