"""The HTTP gateway: the stack's routes (HTTP APIs and REST APIs) on one port, authorized as API Gateway does.

HTTP API JWT authorizers verify RS256 tokens against the local issuer's JWKS (issuer, audience or
`client_id`, `exp`, `nbf`, the route's scopes) and answer 401 or 403 with API Gateway's `www-authenticate`
header. REST API Cognito authorizers verify the pool's tokens; Lambda authorizers (TOKEN and REQUEST) are
invoked and their policy applied. `/_localcloud/...` is the local cloud's own path (health, invoke, the
issuer's discovery document and keys, the console); `/openapi.json` and `/docs` serve the API's document and
its UI when the template has no route there (`localcloud.apidocs`).
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from localcloud.apidocs import ApiDocs
from localcloud.apigateway import error_response, http_event, http_response, rest_event, rest_response
from localcloud.serving import BackgroundServer
from localcloud.tokens import AuthorizationError, scopes_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from localcloud.routes import Authorizer, Route
    from localcloud.tokens import TokenIssuer
    from localcloud.workers import FunctionRuntime, Invocation

__all__ = ["CONTROL_PREFIX", "MAX_PAYLOAD_BYTES", "Gateway", "Refusal"]

CONTROL_PREFIX = "/_localcloud/"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit, HTTP and REST APIs alike
DEFAULT_AUTHORIZER_TTL_SECONDS = 300


@dataclass
class Refusal:
    """A request the gateway answered itself, without invoking the route's function."""

    method: str
    path: str
    status: int
    reason: str
    started: float


class Gateway(BackgroundServer):
    def __init__(
        self,
        routes: list[Route],
        functions: Callable[[str], FunctionRuntime | None],
        issuer: TokenIssuer,
        region: str,
        report: Callable[[Invocation], None],
        refuse: Callable[[Refusal], None],
        control: Callable[[str, Request], Response | None],
        host: str = "127.0.0.1",
        port: int = 3000,
        api_document: Path | None = None,
    ) -> None:
        self.routes = routes
        self._functions = functions
        self._issuer = issuer
        self._region = region
        self._report = report
        self._refuse = refuse
        self._control = control
        self._policy_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self.docs = ApiDocs(api_document) if api_document is not None else None
        super().__init__(self._app, host, port, name="gateway")

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        request.max_content_length = None
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            answer = self._control(request.path[len(CONTROL_PREFIX) :], request)
            return answer or error_response(404, "Not Found")
        started = time.time()
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return self._refused(request, started, 413, "Request Entity Too Large", "body over 10 MB")
        for route in self.routes:
            parameters = route.match(request.method, request.path)
            if parameters is None:
                continue
            function = self._functions(route.function_arn)
            if function is None:
                return self._refused(request, started, 500, "Internal Server Error", "no such function")
            try:
                authorizer = self._authorize(route, request, parameters)
            except AuthorizationError as refusal:
                body = {401: "Unauthorized", 403: "Forbidden"}[refusal.status]
                jwt = route.authorizer is not None and route.authorizer.kind == "jwt"
                headers = {"www-authenticate": refusal.www_authenticate} if jwt else {}
                if route.kind == "rest" and refusal.status == 403:
                    body = "User is not authorized to access this resource with an explicit deny"
                return self._refused(request, started, refusal.status, body, refusal.description, headers)
            api_id = f"local{route.api}"
            if route.payload_version == "1.0":
                event = rest_event(request, route, parameters, authorizer, api_id)
                request_id = event["requestContext"]["requestId"]
            else:
                event = http_event(request, route, parameters, authorizer, api_id)
                request_id = event["requestContext"]["requestId"]
            invocation = function.invoke(event, f"http {route.display}")
            response = rest_response(invocation) if route.kind == "rest" else http_response(invocation)
            if invocation.ok and response.status_code >= 500 and not invocation.note:
                invocation.note = "bad response"
            invocation.http_status = response.status_code
            invocation.reference = _reference(parameters, request, invocation, request_id)
            self._report(invocation)
            return response
        documentation = self.docs.answer(request) if self.docs is not None else None
        if documentation is not None:
            return documentation
        if any(
            route.kind == "rest" and route.prefix and request.path.startswith(route.prefix)
            for route in self.routes
        ):
            # What a REST API answers for a path or method it does not have.
            return self._refused(request, started, 403, "Missing Authentication Token", "no such route")
        return self._refused(request, started, 404, "Not Found", "no such route")

    def _refused(
        self,
        request: Request,
        started: float,
        status: int,
        message: str,
        reason: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        self._refuse(Refusal(request.method, request.path, status, reason, started))
        return error_response(status, message, headers)

    # ----- authorizers -----

    def _authorize(self, route: Route, request: Request, parameters: dict[str, str]) -> dict[str, Any] | None:
        """What the event's `requestContext.authorizer` holds; AuthorizationError when refused."""
        authorizer = route.authorizer
        if authorizer is None:
            return None
        if authorizer.kind in ("jwt", "cognito"):
            token = _bearer(request.headers.get(authorizer.header, ""))
            if not token:
                raise AuthorizationError(401, "the request has no token")
            audiences = authorizer.audiences if authorizer.kind == "jwt" else None
            claims = self._issuer.verify(token, authorizer.issuers, audiences)
            scopes = scopes_of(claims)
            if route.scopes and not set(route.scopes) & set(scopes):
                raise AuthorizationError(
                    403, "the token does not have the required scope", scope=" ".join(route.scopes)
                )
            text_claims = {key: _claim_text(value) for key, value in claims.items()}
            if authorizer.kind == "cognito":
                return {"claims": text_claims}
            return {"jwt": {"claims": text_claims, "scopes": scopes or None}}
        return self._lambda_authorizer(route, authorizer, request, parameters)

    def _lambda_authorizer(
        self, route: Route, authorizer: Authorizer, request: Request, parameters: dict[str, str]
    ) -> dict[str, Any]:
        identity = [_identity(source, request) for source in authorizer.identity_sources]
        if any(value is None for value in identity):
            raise AuthorizationError(401, "the request lacks the authorizer's identity sources")
        method_arn = route.method_arn(
            self._region, f"local{route.api}", request.method, request.path[len(route.prefix) :]
        )
        if authorizer.kind == "token":
            token = str(identity[0])
            if authorizer.validation_expression and not re.fullmatch(authorizer.validation_expression, token):
                raise AuthorizationError(401, "the token does not match the identity validation expression")
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        elif authorizer.payload_version == "2.0":
            http = http_event(request, route, parameters, None, f"local{route.api}")
            event = {"version": "2.0", "type": "REQUEST", "routeArn": method_arn, "identitySource": identity}
            event.update({key: value for key, value in http.items() if key != "version"})
        else:
            event = rest_event(request, route, parameters, None, f"local{route.api}")
            event = {"type": "REQUEST", "methodArn": method_arn, **event}
        cache_key = (authorizer.name, "|".join(str(value) for value in identity))
        cached = self._policy_cache.get(cache_key)
        if cached is not None and cached[0] > time.monotonic():
            policy = cached[1]
        else:
            function = self._functions(str(authorizer.function))
            if function is None:
                raise AuthorizationError(401, "the authorizer's function is not in the stack")
            invocation = function.invoke(event, f"authorizer {authorizer.name}")
            self._report(invocation)
            if not invocation.ok or not isinstance(invocation.payload, dict):
                raise AuthorizationError(401, "the authorizer failed or answered Unauthorized")
            policy = invocation.payload
            self._policy_cache[cache_key] = (time.monotonic() + DEFAULT_AUTHORIZER_TTL_SECONDS, policy)
        if authorizer.simple_responses:
            allowed = policy.get("isAuthorized") is True
        else:
            allowed = _allows(policy.get("policyDocument", {}), method_arn)
        if not allowed:
            raise AuthorizationError(403, "the authorizer denied the request")
        if route.kind == "http":  # HTTP APIs pass the context on as it is, under `lambda`
            return {"lambda": policy.get("context") or {}}
        context = {key: _context_text(value) for key, value in (policy.get("context") or {}).items()}
        return {"principalId": policy.get("principalId"), "integrationLatency": 0, **context}


def _bearer(value: str) -> str:
    return value[7:].strip() if value.lower().startswith("bearer ") else value.strip()


def _identity(source: str, request: Request) -> str | None:
    kind, _, name = source.partition(":")
    return request.headers.get(name) if kind == "header" else request.args.get(name)


def _allows(document: dict[str, Any], method_arn: str) -> bool:
    """IAM-style evaluation of an authorizer's policy for one method: an explicit Deny wins."""
    allowed = False
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if not any(fnmatch.fnmatchcase(method_arn, pattern) for pattern in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _claim_text(value: Any) -> str:
    """API Gateway hands claims to the function as strings; lists look like `[a b]`."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    return json.dumps(value)


def _context_text(value: Any) -> Any:
    """A REST Lambda authorizer's context reaches the function with its values as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _reference(parameters: dict[str, str], request: Request, invocation: Invocation, request_id: str) -> str:
    """What the line shows: an id path parameter, else the correlation id, else the request id."""
    for name, value in parameters.items():
        if name.lower().endswith("id"):
            return f"{name}={value}"
    correlation = invocation.correlation_id or request.headers.get("x-correlation-id")
    return f"correlation_id={correlation}" if correlation else f"request_id={request_id}"
