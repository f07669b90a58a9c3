"""HTTP helpers shared by the API functions: who is calling, and errors a client can act on (every error
body names the field and the problem)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

MAX_BODY_BYTES = 64 * 1024


def caller_id(event: APIGatewayProxyEventV2) -> str:
    """The customer id: the `sub` claim the HTTP API's JWT authorizer verified. Never trust anything else."""
    authorizer = event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    subject = (claims or {}).get("sub")
    if not subject:
        raise UnauthorizedError("missing or invalid bearer token")
    return subject


def problem(
    status: int, message: str, errors: list[dict[str, str]] | None = None, **headers: str
) -> Response:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers or None,
    )


def field_error(field: str, problem_text: str) -> dict[str, str]:
    return {"field": field, "problem": problem_text}


def validation_problem(error: RequestValidationError) -> Response:
    """Powertools' validation errors, reshaped: `lines[0].quantity: Input should be greater than 0`."""
    errors = []
    for detail in error.errors():
        if detail.get("type") == "json_invalid":
            reason = detail.get("ctx", {}).get("error", "invalid JSON")
            errors.append(field_error("body", f"malformed JSON: {reason}"))
            continue
        errors.append(field_error(field_path(detail.get("loc", ())), detail.get("msg", "invalid value")))
    return problem(422, "The request is not valid.", errors)


def refuse_oversized_body(event: dict[str, Any], limit: int = MAX_BODY_BYTES) -> dict[str, Any] | None:
    """A 413 for a body larger than any valid request, before any time is spent parsing it."""
    if len(event.get("body") or "") <= limit:
        return None
    body = {
        "message": "The request body is too large.",
        "errors": [field_error("body", f"over {limit} bytes")],
    }
    return {"statusCode": 413, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'lines', 0, 'sku') -> 'lines[0].sku'; the 'body'/'query'/'path' prefix is dropped."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"
