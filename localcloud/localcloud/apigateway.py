"""API Gateway's Lambda proxy payloads: the events it sends (format 1.0 for REST APIs, 2.0 for HTTP APIs) and
how it maps what the function returns onto the HTTP response, failures included.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from localcloud.template import ACCOUNT_ID

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from localcloud.routes import Route
    from localcloud.workers import Invocation

__all__ = ["error_response", "http_event", "http_response", "rest_event", "rest_response"]

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded", "+json")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An answer the gateway itself gives: the project's error shape, `{"message": ...}`, as API Gateway."""
    response = Response(json.dumps({"message": message}), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _body(request: Request, headers: dict[str, str]) -> tuple[str | None, bool]:
    """The body as API Gateway passes it: text as is, anything else base64-encoded."""
    raw = request.get_data()
    if not raw:
        return None, False
    content_type = headers.get("content-type", "")
    if not content_type or any(kind in content_type for kind in TEXT_TYPES):
        try:
            return raw.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode(), True


def _request_time(now: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def http_event(
    request: Request, route: Route, parameters: dict[str, str], authorizer: dict[str, Any] | None, api_id: str
) -> dict[str, Any]:
    """The HTTP API (payload format 2.0) event for one request."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    body, encoded = _body(request, headers)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
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
            "stage": route.stage,
            "time": _request_time(now),
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
    if body is not None:
        event["body"] = body
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    return event


def rest_event(
    request: Request, route: Route, parameters: dict[str, str], authorizer: dict[str, Any] | None, api_id: str
) -> dict[str, Any]:
    """The REST API (payload format 1.0, `aws-proxy`) event for one request, as `sam local generate-event
    apigateway aws-proxy` shapes it: `path` without the stage, `requestContext.path` with it."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    body, encoded = _body(request, {k.lower(): v for k, v in headers.items()})
    path = request.path[len(route.prefix) :] or "/"
    now = time.time()
    event: dict[str, Any] = {
        "body": body,
        "resource": route.path,
        "path": path,
        "httpMethod": request.method,
        "isBase64Encoded": encoded,
        "queryStringParameters": {key: request.args.getlist(key)[-1] for key in request.args} or None,
        "multiValueQueryStringParameters": {key: request.args.getlist(key) for key in request.args} or None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.path).hex[:6],
            "stage": route.stage,
            "requestId": str(uuid.uuid4()),
            "requestTime": _request_time(now),
            "requestTimeEpoch": int(now * 1000),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "accessKey": None,
                "sourceIp": request.remote_addr or "127.0.0.1",
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": headers.get("User-Agent", ""),
                "user": None,
            },
            "path": request.path,
            "resourcePath": route.path,
            "httpMethod": request.method,
            "apiId": api_id,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        },
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    return event


def _mapped(result: dict[str, Any], status: int, body: str) -> Response:
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


def http_response(invocation: Invocation) -> Response:
    """An HTTP API's mapping of a payload 2.0 response; a failed or malformed one is a 500 (503 timed out)."""
    if not invocation.ok:
        if invocation.status == "timeout":
            return error_response(503, "Service Unavailable")
        return error_response(500, "Internal Server Error")
    result = invocation.payload
    if not isinstance(result, dict) or "statusCode" not in result:
        # API Gateway's guess for a function that returns plain JSON: 200, the JSON as body.
        return Response(json.dumps(result), status=200, content_type="application/json")
    status, body = result.get("statusCode"), result.get("body", "")
    if not isinstance(status, int) or not isinstance(body, str | type(None)):
        return error_response(500, "Internal Server Error")
    return _mapped(result, status, body or "")


def rest_response(invocation: Invocation) -> Response:
    """A REST API's mapping of a proxy response: anything but {statusCode, headers, body} is a 502."""
    if not invocation.ok:
        if invocation.status == "timeout":
            return error_response(504, "Endpoint request timed out")
        return error_response(502, "Internal server error")
    result = invocation.payload
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return error_response(502, "Internal server error")
    body = result.get("body")
    if not isinstance(body, str | type(None)):
        return error_response(502, "Internal server error")
    return _mapped(result, result["statusCode"], body or "")
