"""HTTP helpers shared by the API functions: who is calling, and errors a client can act on. Every error has
one shape, `{"message": ..., "errors": [{"field": ..., "problem": ...}]}` (`errors` only when a field is at
fault): the shape of API Gateway's own `{"message": ...}` answers, so a client reads the gateway's refusals
and the functions' alike (docs/api.md)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from microsystem.cursors import InvalidCursorError
from microsystem.errors import CommitTooLargeError, IdempotencyConflictError, TooManyConflictsError
from microsystem.validation import FieldProblem, field_problems

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

MAX_BODY_BYTES = 64 * 1024
MAX_SUBJECT_LENGTH = 128  # a customer id, as commands and events bound it
PROBLEM_CONTENT_TYPE = content_types.APPLICATION_JSON


# ASCII digits only: str.isdigit() also accepts superscripts, which int() refuses, and other scripts' digits;
# pydantic alone would also take "+5", " 5" and "1_0".
_DIGITS = re.compile(r"[0-9]{1,12}")


def whole_number(minimum: int, maximum: int | None = None) -> BeforeValidator:
    """A query parameter that is a whole number in ASCII digits within the bounds, with an error that says so
    (declare the bounds with `Field` too, for the OpenAPI document)."""
    allowed = f"an integer from {minimum} to {maximum}" if maximum else f"an integer of at least {minimum}"

    def check(value: object) -> object:
        if isinstance(value, str):
            if _DIGITS.fullmatch(value) is None:
                raise ValueError(f"must be {allowed}, got {value[:40]!r}")
            number = int(value)
            if number < minimum or (maximum is not None and number > maximum):
                raise ValueError(f"must be {allowed}, got {number}")
        return value

    return BeforeValidator(check)


class RequestFieldError(Exception):
    """A request that passes its schema but breaks a rule between its fields: a 422 naming the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ForbiddenIdentityError(Exception):
    """A verified token whose subject this API cannot take as a customer id (too long, not printable)."""


def caller_id(event: APIGatewayProxyEventV2) -> str:
    """The customer id: the `sub` claim the HTTP API's JWT authorizer verified. Never trust anything else."""
    authorizer = event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    subject = (claims or {}).get("sub")
    if not subject:
        raise UnauthorizedError("the token has no subject (sub)")
    if len(subject) > MAX_SUBJECT_LENGTH or not subject.isprintable():
        raise ForbiddenIdentityError(
            f"the token's subject is not a customer id this API accepts (1 to {MAX_SUBJECT_LENGTH} "
            "printable characters)"
        )
    return str(subject)


def problem(
    status: int,
    message: str,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = [error.as_dict() for error in errors]
    return Response(
        status_code=status, content_type=PROBLEM_CONTENT_TYPE, body=json.dumps(body), headers=headers or None
    )


def field_error(field: str, problem_text: str) -> FieldProblem:
    return FieldProblem(field, problem_text)


def validation_problem(error: RequestValidationError) -> Response[str]:
    """Powertools' validation errors, reshaped: `lines[0].quantity: Input should be greater than 0`. A bad
    query parameter or header makes the request as a whole wrong (400); a body that breaks the schema, 422."""
    details = [_with_header_names(detail) for detail in error.errors()]
    if any(detail.get("type") == "unsupported_content_type" for detail in details):
        return problem(
            415,
            "The request body must be JSON.",
            [field_error("Content-Type", "must be application/json")],
        )
    parts = {detail.get("loc", ("body",))[0] for detail in details}
    if parts & {"query", "header", "path", "cookie"}:
        relevant = [d for d in details if d.get("loc", ("body",))[0] != "body"]
        return problem(400, "The request is not valid.", field_problems(relevant, whole="query"))
    return problem(422, "The request is not valid.", field_problems(details))


def _with_header_names(detail: dict[str, Any]) -> dict[str, Any]:
    """`('header', 'idempotency-key')` -> `('header', 'Idempotency-Key')`: headers as people write them."""
    location = tuple(detail.get("loc", ()))
    if len(location) == 2 and location[0] == "header" and isinstance(location[1], str):
        name = "-".join(part.capitalize() for part in location[1].split("-"))
        return {**detail, "loc": ("header", name)}
    return detail


def body_size(event: dict[str, Any]) -> int:
    """The request body's size in bytes, as the client sent it."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return len(base64.b64decode(body, validate=False))
        except (binascii.Error, ValueError):
            return len(body)
    return len(body.encode("utf-8", errors="surrogatepass"))


def refuse_oversized_body(event: dict[str, Any], limit: int = MAX_BODY_BYTES) -> dict[str, Any] | None:
    """A 413 for a body larger than any valid request, before any time is spent parsing it."""
    if body_size(event) <= limit:
        return None
    body = {
        "message": "The request body is too large.",
        "errors": [{"field": "body", "problem": f"over {limit} bytes"}],
    }
    return {"statusCode": 413, "headers": {"Content-Type": PROBLEM_CONTENT_TYPE}, "body": json.dumps(body)}


def install_problem_handlers(app: APIGatewayHttpResolver) -> None:
    """The answers to the refusals every API function shares, in the one error shape."""

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[str]:
        return validation_problem(error)

    @app.exception_handler(RequestFieldError)
    def _invalid_field(error: RequestFieldError) -> Response[str]:
        return problem(422, "The request is not valid.", [field_error(error.field, error.problem)])

    @app.exception_handler(UnauthorizedError)
    def _unauthorized(error: UnauthorizedError) -> Response[str]:
        return problem(401, "Unauthorized", [field_error("Authorization", str(error.msg))])

    @app.exception_handler(ForbiddenIdentityError)
    def _forbidden(error: ForbiddenIdentityError) -> Response[str]:
        return problem(403, "Forbidden", [field_error("Authorization", str(error))])

    @app.exception_handler(InvalidCursorError)
    def _invalid_cursor(error: InvalidCursorError) -> Response[str]:
        return problem(400, "The request is not valid.", [field_error("cursor", str(error))])

    @app.exception_handler(IdempotencyConflictError)
    def _key_reuse(error: IdempotencyConflictError) -> Response[str]:
        return problem(
            422,
            "This Idempotency-Key was already used with a different request body.",
            [field_error("Idempotency-Key", "reused with a different body; use a new key for a new request")],
        )

    @app.exception_handler(TooManyConflictsError)
    def _contention(error: TooManyConflictsError) -> Response[str]:
        return problem(
            409,
            "The resource is being changed concurrently; retry the request.",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(CommitTooLargeError)
    def _too_large(error: CommitTooLargeError) -> Response[str]:
        return problem(413, "The request is too large to record.", [field_error("body", str(error))])

    @app.not_found
    def _no_route(error: Exception) -> Response[str]:
        return problem(404, "Not Found")
