"""Live output: one line per invocation (HTTP status or batch outcome, the id to find the work by), one per
request the gateway refused (with the reason), tracebacks under failed invocations, and with `verbose` the
function's own log lines, compactly. Lines are never interleaved.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from localcloud.gateway import Refusal
    from localcloud.workers import Invocation

__all__ = ["Reporter", "compact_log_line", "outcome_of"]

HISTORY = 5000  # invocations kept for the console and the tests


def outcome_of(invocation: Invocation) -> str:
    """What happened, in a few words: the HTTP status, the batch's outcome, or the error."""
    failure = ""
    if invocation.error:
        failure = f"{invocation.status} {invocation.error.get('errorType', '')}".strip()
    if invocation.http_status is not None:
        detail = invocation.note or failure
        return f"{invocation.http_status}" + (
            f" ({detail})" if detail and invocation.http_status >= 500 else ""
        )
    if invocation.trigger.startswith(("sqs ", "kinesis ", "ddb-stream ")):
        outcome = failure or invocation.note or "ok"
        return f"batch {invocation.batch_size}: {outcome}"
    return " ".join(part for part in (failure or "ok", invocation.note) if part)


def compact_log_line(line: str) -> str:
    """A Powertools JSON log line as `LEVEL message (key=value ...)`; any other line as it is."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    level = str(record.get("level", "")).upper()
    message = record.get("message", "")
    text = message if isinstance(message, str) else json.dumps(message)
    if record.get("exception"):
        text += f"  {str(record['exception']).splitlines()[-1]}"
    return f"{level:<7} {text}"


class Reporter:
    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.history: deque[Invocation] = deque(maxlen=HISTORY)
        self.refusals: deque[Refusal] = deque(maxlen=HISTORY)
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            print(text, file=self.stream, flush=True)

    def invocation(self, invocation: Invocation) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(invocation.started))
        reference = invocation.reference or (
            f"correlation_id={invocation.correlation_id}" if invocation.correlation_id else ""
        )
        line = (
            f"{stamp} {invocation.trigger:<40} {outcome_of(invocation):<22} {invocation.function:<30} "
            f"{invocation.duration_ms:7.1f} ms {'cold' if invocation.cold else 'warm'}  {reference}"
        )
        with self._lock:
            self.history.append(invocation)
            print(line.rstrip(), file=self.stream)
            if invocation.error:
                error = invocation.error
                print(f"    {error.get('errorType')}: {error.get('errorMessage')}", file=self.stream)
                for frame in error.get("stackTrace") or []:
                    print("    " + frame.rstrip().replace("\n", "\n    "), file=self.stream)
            if self.verbose:
                for log_line in invocation.log_lines:
                    if log_line.strip():
                        print(f"      | {compact_log_line(log_line)}", file=self.stream)
            self.stream.flush()

    def refusal(self, refusal: Refusal) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(refusal.started))
        trigger = f"http {refusal.method} {refusal.path}"
        with self._lock:
            self.refusals.append(refusal)
            print(f"{stamp} {trigger:<40} {refusal.status:<22} gateway: {refusal.reason}", file=self.stream)
            self.stream.flush()
