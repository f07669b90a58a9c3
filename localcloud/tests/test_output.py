"""The live output: one line per invocation with its outcome and the id to find the work by, refusals with
their reason, and with verbose the function's own log lines, compactly."""

from __future__ import annotations

import io
import json

from localcloud.gateway import Refusal
from localcloud.output import Reporter, compact_log_line
from localcloud.workers import Invocation


def invocation(**fields: object) -> Invocation:
    base: dict[str, object] = {
        "function": "orders-api",
        "trigger": "http POST /orders",
        "batch_size": 1,
        "status": "ok",
        "duration_ms": 12.5,
        "cold": False,
        "request_id": "req-1",
    }
    return Invocation(**{**base, **fields})  # type: ignore[arg-type]


def test_an_http_line_has_the_status_and_the_correlation_id() -> None:
    out = io.StringIO()
    Reporter(out).invocation(invocation(http_status=201, reference="correlation_id=c-1"))
    line = out.getvalue()
    assert "http POST /orders" in line
    assert " 201 " in line
    assert line.rstrip().endswith("correlation_id=c-1")


def test_a_batch_line_says_what_became_of_the_batch() -> None:
    out = io.StringIO()
    reporter = Reporter(out)
    reporter.invocation(invocation(trigger="sqs commands.fifo", batch_size=3, note="partial (1 failed)"))
    reporter.invocation(
        invocation(trigger="kinesis events", batch_size=2, status="error", error={"errorType": "KeyError"})
    )
    first, second = out.getvalue().splitlines()[:2]
    assert "batch 3: partial (1 failed)" in first
    assert "batch 2: error KeyError" in second


def test_a_refusal_has_its_status_and_reason() -> None:
    out = io.StringIO()
    Reporter(out).refusal(Refusal("GET", "/orders", 401, "the token has expired", 0.0))
    assert "http GET /orders" in out.getvalue()
    assert "401" in out.getvalue()
    assert "gateway: the token has expired" in out.getvalue()


def test_verbose_shows_the_functions_logs_compactly_and_quiet_does_not() -> None:
    log = json.dumps({"level": "INFO", "message": "order placed", "correlation_id": "c-1", "service": "x"})
    quiet, loud = io.StringIO(), io.StringIO()
    Reporter(quiet).invocation(invocation(log_lines=[log]))
    Reporter(loud, verbose=True).invocation(invocation(log_lines=[log, "a plain print"]))
    assert "order placed" not in quiet.getvalue()
    assert "| INFO    order placed" in loud.getvalue()
    assert "| a plain print" in loud.getvalue()


def test_a_compact_line_keeps_the_exceptions_last_line() -> None:
    record = {"level": "ERROR", "message": "failed", "exception": "Traceback ...\nValueError: bad"}
    assert compact_log_line(json.dumps(record)) == "ERROR   failed  ValueError: bad"
