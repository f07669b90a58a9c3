"""Load a function's handler module the way Lambda would (its own folder first on the path), and build
the events and context Lambda passes it."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def load_function(name: str) -> Any:
    """Import functions/<name>/app.py as a fresh module: a cold start, with a clean memory image."""
    path = ROOT / "functions" / name / "app.py"
    module_name = f"function_{name}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # as a real import would: pydantic resolves annotations through it
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def sample_event(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / name).read_text())


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    customer: str | None = "customer-alice",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, from the sample in events/, for any route and caller."""
    event = copy.deepcopy(sample_event("api_place_order_valid.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    event["headers"].pop("idempotency-key", None)
    event["headers"].update(headers or {})
    event.pop("body", None)
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if customer is None:
        event["requestContext"].pop("authorizer", None)
        event["headers"].pop("authorization", None)
    else:
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = customer
    return event


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
