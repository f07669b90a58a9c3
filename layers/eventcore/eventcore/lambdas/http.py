"""HTTP pieces shared by the API functions, written once: who is calling, what a body must be before a route
reads it, the request headers and parameters every API declares alike (`IdempotencyKey`, `PageSize`), JSON
answers with a validator that changes whenever the document does (`json_response`, `etag_of`), and errors a
client can act on. Every error has one shape, `{"message": ..., "errors": [{"field": ...,
"problem": ...}]}` (`errors` empty when no field is at fault): API Gateway's own refusals are
`{"message": ...}`, so a client reads the gateway's answers and the functions' alike (docs/api.md)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError, UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from eventcore.errors import CommitTooLargeError, IdempotencyConflictError, TooManyConflictsError
from eventcore.read.cursors import InvalidCursorError
from eventcore.regions import RegionPassiveError, active_region
from eventcore.validation import FieldProblem, field_path, field_problems

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32  # a request nests 4 levels deep; the JSON parser recurses once per level
JSON_MEDIA_TYPE = "application/json"
MAX_SUBJECT_LENGTH = 128  # a customer id, as commands and events bound it
PROBLEM_CONTENT_TYPE = content_types.APPLICATION_JSON


class ProblemDetail(BaseModel):
    field: str = Field(
        description="What is at fault: a body field (`lines[0].quantity`), a header, a parameter."
    )
    problem: str = Field(description="What is wrong with it, and what is allowed.")


class Problem(BaseModel):
    """Every error, from the functions and from API Gateway. The gateway's own refusals (401 and 403 of the
    JWT authorizer, 404 for a route it does not have, its 5xx) carry only `message`; what the functions
    answer always has `errors`, empty when no one field is at fault."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "The request is not valid.",
                    "errors": [
                        {"field": "lines[0].quantity", "problem": "Input should be less than or equal to 100"}
                    ],
                },
                {"message": "Unauthorized"},
            ]
        }
    )

    message: str
    errors: list[ProblemDetail] = Field(default_factory=list)


# What each status means in this API, for the OpenAPI document: every route lists the ones it can answer.
PROBLEM_STATUSES: dict[int, str] = {
    400: "A query parameter, path parameter or header is not valid, or a query parameter is not one the "
    "route takes (refused, never ignored); `errors` names it.",
    401: "No token, or one the JWT authorizer refuses (expired, wrong issuer or audience, bad signature): "
    'API Gateway answers `{"message": "Unauthorized"}` and says why in `www-authenticate`. A token '
    "without a subject is refused by the function, naming `Authorization`.",
    403: "The token lacks the route's scope (API Gateway, `www-authenticate` names the scope), or its "
    "subject is no customer id this API accepts (1 to 128 printable characters).",
    404: "No such resource for this caller (another customer's order reads as a missing one), or no such "
    "route.",
    409: "The resource's state does not allow this, or it is being changed concurrently (retry).",
    413: f"The body is over {MAX_BODY_BYTES} bytes, or the result would be too large to record.",
    415: "The body is not `application/json`.",
    422: "The body is not valid: not UTF-8, malformed JSON, nested over 32 levels, or against the schema; or "
    "the Idempotency-Key was used with another body; `errors` names each field.",
    503: "A configuration the answer depends on is unavailable, or this region is the standby and takes no "
    "command (docs/failover.md); retry after `Retry-After` seconds.",
}


def answer(description: str, model: type[BaseModel] | None = None, **headers: str) -> OpenAPIResponse:
    """A route's successful answer, for the OpenAPI document: `model` as JSON, and the headers it carries
    (`Location="The order's URL."`; underscores in names become hyphens)."""
    response: OpenAPIResponse = {"description": description}
    if model is not None:
        response["content"] = {PROBLEM_CONTENT_TYPE: {"model": model}}
    if headers:
        response["headers"] = {
            name.replace("_", "-"): {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


def problem_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The `responses=` entries of a route's refusals, for the OpenAPI document."""
    responses: dict[int, OpenAPIResponse] = {}
    for status in statuses:
        response: OpenAPIResponse = {
            "description": PROBLEM_STATUSES[status],
            "content": {PROBLEM_CONTENT_TYPE: {"model": Problem}},
        }
        if status == 503:
            response["headers"] = {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}}
        responses[status] = response
    return responses


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


MAX_PAGE_SIZE = 100

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="Makes the request safe to retry: the same key answers with what the first request did "
        "(`Idempotent-Replayed: true`) and records nothing again.",
    ),
]
PageSize = Annotated[int, whole_number(1, MAX_PAGE_SIZE), Field(ge=1, le=MAX_PAGE_SIZE)]
ETAG = "A validator of the document as this caller sees it, quoted: send it in `If-None-Match`."


def etag_of(document: Any) -> str:
    """The document's entity tag: a digest of exactly what the caller is answered, so it changes whenever the
    document does (a new version, an erasure that adds no version, another read model generation)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names this entity tag (or `*`); weak tags compare by their opaque part."""
    if not if_none_match:
        return False
    candidates = [candidate.strip().removeprefix("W/") for candidate in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def json_response(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None, *, cache: bool = False
) -> Response[Any]:
    """A JSON answer; never stored by a shared cache (`private`), revalidated before reuse (`no-cache`).
    `cache=True` adds the document's ETag."""
    sent = {"Cache-Control": "private, no-cache", **(headers or {})}
    if cache:
        sent["ETag"] = etag_of(body)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=sent)


def revalidated(if_none_match: str | None, body: dict[str, Any]) -> Response[Any]:
    """A GET's answer: 304 and the ETag when `If-None-Match` names the document as it is, else it."""
    etag = etag_of(body)
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "private, no-cache"})
    return json_response(200, body, {"ETag": etag})


IfNoneMatch = Annotated[
    str | None, Header(alias="If-None-Match", description="The ETag of the document the client holds.")
]


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
    body = {"message": message, "errors": [error.as_dict() for error in errors or ()]}
    return Response(
        status_code=status, content_type=PROBLEM_CONTENT_TYPE, body=json.dumps(body), headers=headers or None
    )


def field_error(field: str, problem_text: str) -> FieldProblem:
    return FieldProblem(field, problem_text)


def validation_problem(
    error: RequestValidationError, refusals: Mapping[str, str] | None = None
) -> Response[str]:
    """Powertools' validation errors, reshaped: `lines[0].quantity: Input should be greater than 0`. A bad
    query parameter or header makes the request as a whole wrong (400); a body that breaks the schema, 422.
    `refusals`: pydantic error types that refuse a value outright (card data where a token belongs), each
    with its message: a 400 naming only those fields, never repeating the value."""
    refused = [d for d in error.errors() if d.get("type") in (refusals or {})]
    if refused and refusals:
        message = refusals[str(refused[0]["type"])]
        return problem(
            400, message, [field_error(field_path(d.get("loc", ())), str(d.get("msg"))) for d in refused]
        )
    details = [_with_header_names(detail) for detail in error.errors()]
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


class _Refusal(Exception):
    """A body refused before routing: the status, the message, and the field at fault."""

    def __init__(self, status: int, message: str, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.status = status
        self.message = message
        self.problem = FieldProblem(field, problem)


def refuse_unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The refusal of a request whose body no route could read, before any time is spent routing it: over
    64 KiB (413), not JSON by its Content-Type (415), not UTF-8, not JSON, nested deeper than any request
    or with a number longer than Python reads (422). A body that passes is left as UTF-8 text, so the
    resolver's own parsing of it cannot fail in any other way than the route's validation says."""
    try:
        text = _body_text(event)
        if text:
            _check_content_type(event)
            _check_json(text)
    except _Refusal as refusal:
        body = {"message": refusal.message, "errors": [refusal.problem.as_dict()]}
        return {
            "statusCode": refusal.status,
            "headers": {"Content-Type": PROBLEM_CONTENT_TYPE},
            "body": json.dumps(body),
        }
    return None


def _body_text(event: dict[str, Any]) -> str:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _Refusal(422, "The request is not valid.", "body", "not valid base64") from None
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise _Refusal(413, "The request body is too large.", "body", f"over {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Refusal(
            422, "The request is not valid.", "body", f"not valid UTF-8 (byte {error.start})"
        ) from None
    if event.get("isBase64Encoded"):
        event["body"], event["isBase64Encoded"] = text, False
    return text


def _check_content_type(event: dict[str, Any]) -> None:
    headers = event.get("headers") or {}
    name = next((key for key in headers if key.lower() == "content-type"), None)
    value = str(headers[name]).strip() if name else ""
    if value and value.split(";")[0].strip().lower() != JSON_MEDIA_TYPE:
        raise _Refusal(415, "The request body must be JSON.", "Content-Type", f"must be {JSON_MEDIA_TYPE}")
    if name:
        headers[name] = JSON_MEDIA_TYPE  # as the resolver reads it: media types are case-insensitive


def _check_json(text: str) -> None:
    if _nested_deeper_than(text, MAX_JSON_DEPTH):
        raise _Refusal(
            422, "The request is not valid.", "body", f"nested deeper than {MAX_JSON_DEPTH} levels"
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise _Refusal(422, "The request is not valid.", "body", f"malformed JSON: {error.msg}") from None
    except ValueError:  # a number of more digits than int() reads (sys.get_int_max_str_digits())
        raise _Refusal(422, "The request is not valid.", "body", "a number has too many digits") from None


def _nested_deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON text opens more than `limit` arrays or objects inside each other. Counted without
    parsing: the parser recurses, and a body of 20,000 brackets would exhaust Python's stack instead."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            if depth > limit:
                return True
        elif character in "]}":
            depth -= 1
    return False


MAX_ECHOED_NAME = 64


def refuse_unknown_query_parameters(
    app: APIGatewayHttpResolver, next_middleware: NextMiddleware
) -> Response[Any]:
    """A middleware: a query parameter the route does not take is refused (400, naming it), never ignored. A
    misspelt `?asof=` or `?verison=5` would otherwise answer the current order as if it were the one asked
    for."""
    route = app.context.get("_route")
    takes = sorted(param.alias for param in route.dependant.query_params) if route is not None else []
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - set(takes))
    if not unknown:
        return next_middleware(app)
    allowed = f"it takes {', '.join(takes)}" if takes else "it takes none"
    return problem(
        400,
        "The request is not valid.",
        [
            field_error(name[:MAX_ECHOED_NAME], f"not a query parameter of this route; {allowed}")
            for name in unknown[:10]
        ],
    )


READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_commands_while_passive(
    app: APIGatewayHttpResolver, next_middleware: NextMiddleware
) -> Response[Any]:
    """A middleware: in the standby region (docs/failover.md) every request that is not a read is refused
    with 503 and `Retry-After` before a route runs, so nothing is sealed, recorded or erased there; reads
    are answered from the region's own views."""
    if app.current_event.request_context.http.method.upper() in READING_METHODS:
        return next_middleware(app)
    active_region().require_active()
    return next_middleware(app)


def passive_problem(error: RegionPassiveError) -> Response[str]:
    """503 and `Retry-After`: the standby, no region active during a planned move, or the active-region
    record unreadable (throttled, unreachable): each is over within seconds, and the client retries with
    the same `Idempotency-Key` (here, or in whichever region is active)."""
    return problem(503, error.problem, headers={"Retry-After": str(error.retry_after)})


def install_problem_handlers(app: APIGatewayHttpResolver, refusals: Mapping[str, str] | None = None) -> None:
    """The answers to the refusals every API function shares, in the one error shape, the refusal of
    query parameters a route does not take, and of commands in the standby region (`refusals`: see
    `validation_problem`)."""
    app.use([refuse_unknown_query_parameters, refuse_commands_while_passive])

    @app.exception_handler(RegionPassiveError)
    def _passive(error: RegionPassiveError) -> Response[str]:
        return passive_problem(error)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[str]:
        return validation_problem(error, refusals)

    @app.exception_handler(RequestFieldError)
    def _invalid_field(error: RequestFieldError) -> Response[str]:
        return problem(422, "The request is not valid.", [field_error(error.field, error.problem)])

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(error: RequestUnsupportedContentType) -> Response[str]:
        # refuse_unreadable_body answers first; this keeps the shape if a resolver is called without it.
        return problem(
            415, "The request body must be JSON.", [field_error("Content-Type", "must be application/json")]
        )

    @app.exception_handler(UnauthorizedError)
    def _unauthorized(error: UnauthorizedError) -> Response[str]:
        return problem(401, "Unauthorized", [field_error("Authorization", str(error.msg))])

    @app.exception_handler(ServiceError)
    def _service_error(error: ServiceError) -> Response[str]:
        return problem(error.status_code, str(error.msg))

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
