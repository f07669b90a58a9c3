"""The HTTP gateway: the template's HttpApi routes as API Gateway v2 (payload format 2.0) invocations.

JWT authorizers are checked against locally minted dev tokens; the claims reach the function in
`requestContext.authorizer.jwt` as API Gateway puts them there. `/_localcloud/...` is the local cloud's own
control path (health, invoke), used by the `invoke` command.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from localcloud.serving import BackgroundServer
from localcloud.tokens import verify_token

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.workers import FunctionRuntime, Invocation

__all__ = ["Authorizer", "Gateway", "Route"]

CONTROL_PREFIX = "/_localcloud/"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded", "+json")


@dataclass
class Authorizer:
    name: str
    issuer: str
    audiences: list[str]
    header: str = "authorization"


@dataclass
class Route:
    method: str  # upper case, or ANY
    path: str  # as in the template: /orders/{id}, /files/{proxy+}, or $default
    function: FunctionRuntime
    api_id: str
    authorizer: Authorizer | None

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        if self.path == "$default":
            return {}
        pattern = re.sub(r"\\\{([^}+]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", pattern)
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers literal segments, then parameters, then greedy paths, then $default."""
        segments = self.path.strip("/").split("/")
        literal = sum(1 for segment in segments if not segment.startswith("{"))
        greedy = self.path.endswith("+}") or self.path == "$default"
        return (0 if greedy else 1, literal, int(self.method != "ANY"))


class Gateway(BackgroundServer):
    def __init__(
        self,
        routes: list[Route],
        report: Callable[[Invocation], None],
        control: Callable[[str, Request], Response | None],
        host: str = "127.0.0.1",
        port: int = 3000,
    ) -> None:
        self.routes = sorted(routes, key=lambda route: route.specificity, reverse=True)
        self._report = report
        self._control = control
        super().__init__(self._app, host, port, name="gateway")

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            answer = self._control(request.path[len(CONTROL_PREFIX) :], request)
            return answer or _message(404, "Not Found")
        for route in self.routes:
            parameters = route.match(request.method, request.path)
            if parameters is None:
                continue
            jwt_context = None
            if route.authorizer is not None:
                jwt_context = self._authorize(route.authorizer, request)
                if jwt_context is None:
                    return _message(401, "Unauthorized")
            event = api_event(request, route, parameters, jwt_context)
            invocation = route.function.invoke(event, f"http {request.method} {request.path}")
            response = http_response(invocation)
            if invocation.ok and response.status_code == 500 and not invocation.note:
                invocation.note = "error (bad response)"
            self._report(invocation)
            return response
        return _message(404, "Not Found")

    @staticmethod
    def _authorize(authorizer: Authorizer, request: Request) -> dict[str, Any] | None:
        value = request.headers.get(authorizer.header, "")
        token = value[7:] if value.lower().startswith("bearer ") else value
        if not token:
            return None
        try:
            claims = verify_token(token.strip(), authorizer.issuer, authorizer.audiences)
        except jwt.InvalidTokenError:
            return None
        scope = claims.get("scope") or claims.get("scp")
        scopes = scope.split() if isinstance(scope, str) else scope
        return {"claims": {key: _claim_text(value) for key, value in claims.items()}, "scopes": scopes}


def _claim_text(value: Any) -> str:
    """API Gateway hands claims to the function as strings; lists look like `[a b]`."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    return json.dumps(value)


def _message(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


def api_event(
    request: Request, route: Route, parameters: dict[str, str], jwt_context: dict[str, Any] | None
) -> dict[str, Any]:
    """The API Gateway v2 (payload format 2.0) event for one request."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    raw_body = request.get_data()
    content_type = headers.get("content-type", "")
    is_text = not raw_body or any(kind in content_type for kind in TEXT_TYPES) or not content_type
    try:
        body = raw_body.decode() if is_text else None
    except UnicodeDecodeError:
        body = None
    encoded = body is None
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": route.api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if request.cookies:
        event["cookies"] = [part.strip() for part in headers.get("cookie", "").split(";") if part.strip()]
    if request.args:
        event["queryStringParameters"] = {key: ",".join(request.args.getlist(key)) for key in request.args}
    if parameters:
        event["pathParameters"] = parameters
    if raw_body:
        event["body"] = base64.b64encode(raw_body).decode() if encoded else body
    if jwt_context is not None:
        event["requestContext"]["authorizer"] = {"jwt": jwt_context}
    return event


def http_response(invocation: Invocation) -> Response:
    """API Gateway's mapping of a payload 2.0 response; a failed or malformed one is a 500."""
    if not invocation.ok:
        status = 503 if invocation.status == "timeout" else 500
        return _message(status, "Service Unavailable" if status == 503 else "Internal Server Error")
    result = invocation.payload
    if not isinstance(result, dict) or "statusCode" not in result:
        # API Gateway's guess for a function that returns plain JSON: 200, the JSON as body.
        return Response(json.dumps(result), status=200, content_type="application/json")
    status = result.get("statusCode")
    body = result.get("body", "")
    if not isinstance(status, int) or not isinstance(body, str | type(None)):
        return _message(500, "Internal Server Error")
    headers = Headers()
    for name, value in (result.get("headers") or {}).items():
        headers.add(name, str(value))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        headers.add("set-cookie", cookie)
    data = base64.b64decode(body) if result.get("isBase64Encoded") and body else (body or "").encode()
    response = Response(data, status=status, headers=headers)
    if "content-type" not in {name.lower() for name in headers.keys()}:  # noqa: SIM118
        response.headers["Content-Type"] = "application/json"
    return response
