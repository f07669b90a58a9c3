"""The stack's HTTP routes, read from the translated APIs: `AWS::ApiGatewayV2::Api` (HttpApi, payload 2.0 by
default) and `AWS::ApiGateway::RestApi` (Api, payload 1.0), each with its stage and its authorizers.

SAM writes every route of an API into the API's OpenAPI `Body`, with the integration (the function's ARN),
the payload format, and per operation the `security` requirement (authorizer and scopes); the stage is an
`AWS::ApiGateway(V2)::Stage` of its own. Nothing needed is lost in the translation, so the SAM events are not
read at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.template import ACCOUNT_ID, TemplateError

if TYPE_CHECKING:
    from localcloud.stack import Stack

__all__ = ["Authorizer", "Route", "routes_of"]

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
ANY_METHOD = "x-amazon-apigateway-any-method"


@dataclass(frozen=True)
class Authorizer:
    """How a route's callers are checked. `kind`: jwt (HTTP API), cognito, token or request (REST API)."""

    name: str
    kind: str
    issuers: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()  # empty for Cognito: it checks the pool (issuer), not the app client
    identity_sources: tuple[str, ...] = ("header:authorization",)  # header:NAME or query:NAME
    function: str | None = None  # the Lambda authorizer's function ARN
    validation_expression: str | None = None
    payload_version: str = "1.0"  # a Lambda authorizer's event format (HTTP APIs may ask for 2.0)
    simple_responses: bool = False  # an HTTP API Lambda authorizer answering {"isAuthorized": ...}

    @property
    def header(self) -> str:
        for source in self.identity_sources:
            kind, _, name = source.partition(":")
            if kind == "header":
                return name
        return "authorization"


@dataclass(frozen=True)
class Route:
    api: str  # the API's logical id
    kind: str  # "http" (API Gateway v2) or "rest" (v1)
    method: str  # upper case, or ANY
    path: str  # as declared: /orders/{id}, /files/{proxy+}, or $default
    function_arn: str
    stage: str  # "$default" serves at the root; any other name is the first path segment
    payload_version: str  # "1.0" or "2.0"
    authorizer: Authorizer | None = None
    scopes: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    @property
    def prefix(self) -> str:
        return "" if self.stage == "$default" else f"/{self.stage}"

    @property
    def display(self) -> str:
        return f"{self.method} {self.prefix}{'' if self.path == '$default' else self.path}"

    def match(self, method: str, full_path: str) -> dict[str, str] | None:
        """The path parameters if this route serves `method full_path`, else None."""
        if self.method not in ("ANY", method):
            return None
        if self.prefix:
            if full_path != self.prefix and not full_path.startswith(self.prefix + "/"):
                return None
            full_path = full_path[len(self.prefix) :] or "/"
        if self.path == "$default":
            return {}
        pattern = re.sub(r"\\\{([^}+]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", pattern)
        found = re.fullmatch(pattern, full_path)
        return found.groupdict() if found else None

    def method_arn(self, region: str, api_id: str, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{api_id}/{self.stage}/{method}{path}"

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        """API Gateway prefers literal segments, then parameters, then greedy paths, then $default."""
        segments = self.path.strip("/").split("/")
        literal = sum(1 for segment in segments if not segment.startswith("{"))
        greedy = self.path.endswith("+}") or self.path == "$default"
        return (len(self.prefix), 0 if greedy else 1, literal, int(self.method != "ANY"))


def routes_of(stack: Stack) -> list[Route]:
    """Every route of every API in the stack, most specific first."""
    routes: list[Route] = []
    for kind, api_type, stage_type, api_key in (
        ("http", "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "ApiId"),
        ("rest", "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage", "RestApiId"),
    ):
        stages = {
            _ref(res.get("Properties", {}).get(api_key)): str(res["Properties"].get("StageName", "$default"))
            for res in stack.of_type(stage_type).values()
        }
        for api in stack.of_type(api_type):
            body = stack.properties(api).get("Body")
            if not isinstance(body, dict):
                continue
            stage = stages.get(api, "$default")
            routes.extend(_routes_in(stack, api, kind, body, stage))
    return sorted(routes, key=lambda route: route.specificity, reverse=True)


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def _routes_in(stack: Stack, api: str, kind: str, body: dict[str, Any], stage: str) -> list[Route]:
    authorizers = _authorizers(stack, api, kind, body)
    default_security = body.get("security")
    routes = []
    for path, operations in body.get("paths", {}).items():
        for method_key, operation in operations.items():
            if method_key not in (*HTTP_METHODS, ANY_METHOD) or not isinstance(operation, dict):
                continue
            integration = operation.get("x-amazon-apigateway-integration", {})
            uri = str(integration.get("uri", ""))
            found = re.search(r"functions/(arn:[^/]+:function:[^/]+)/invocations", uri)
            if integration.get("type", "").lower() != "aws_proxy" or not found:
                continue  # mock or HTTP integrations: nothing local serves them
            authorizer, scopes = None, ()
            for requirement in operation.get("security", default_security) or []:
                for name, required_scopes in requirement.items():
                    if name in authorizers:
                        authorizer, scopes = authorizers[name], tuple(required_scopes or ())
            default_version = "2.0" if kind == "http" else "1.0"
            routes.append(
                Route(
                    api=api,
                    kind=kind,
                    method="ANY" if method_key == ANY_METHOD else method_key.upper(),
                    path=path,
                    function_arn=found.group(1),
                    stage=stage,
                    payload_version=str(integration.get("payloadFormatVersion", default_version)),
                    authorizer=authorizer,
                    scopes=scopes,
                )
            )
    return routes


def _authorizers(stack: Stack, api: str, kind: str, body: dict[str, Any]) -> dict[str, Authorizer]:
    schemes = (
        body.get("components", {}).get("securitySchemes", {})
        if kind == "http"
        else body.get("securityDefinitions", {})
    )
    found = {}
    for name, scheme in schemes.items():
        config = scheme.get("x-amazon-apigateway-authorizer")
        if not isinstance(config, dict):
            continue
        kind_of = str(config.get("type", "")).lower()
        if kind_of == "jwt":
            jwt_config = config.get("jwtConfiguration", {})
            audience = jwt_config.get("audience") or []
            found[name] = Authorizer(
                name,
                "jwt",
                issuers=(str(jwt_config.get("issuer", "")),),
                audiences=tuple(audience if isinstance(audience, list) else [audience]),
                identity_sources=_sources(config.get("identitySource", "$request.header.Authorization")),
            )
        elif kind_of == "cognito_user_pools":
            pools = [str(arn) for arn in config.get("providerARNs", [])]
            header = scheme.get("name", "Authorization")
            found[name] = Authorizer(
                name,
                "cognito",
                issuers=tuple(_cognito_issuer(arn) for arn in pools),
                identity_sources=(f"header:{header.lower()}",),
            )
        elif kind_of in ("token", "request"):
            uri = str(config.get("authorizerUri", ""))
            function = re.search(r"functions/(arn:[^/]+:function:[^/]+)/invocations", uri)
            if function is None:
                raise TemplateError(f"{api}: authorizer {name} does not name a function of the stack")
            if kind_of == "token":
                sources: tuple[str, ...] = (f"header:{scheme.get('name', 'Authorization').lower()}",)
            else:
                sources = _sources(config.get("identitySource", ""))
            found[name] = Authorizer(
                name,
                kind_of,
                function=function.group(1),
                identity_sources=sources,
                validation_expression=config.get("identityValidationExpression"),
                payload_version=str(config.get("authorizerPayloadFormatVersion", "1.0")),
                simple_responses=bool(config.get("enableSimpleResponses", False)),
            )
    return found


def _sources(text: Any) -> tuple[str, ...]:
    """`$request.header.X` (v2) or `method.request.header.X, method.request.querystring.q` (v1)."""
    items = text if isinstance(text, list) else str(text).split(",")
    sources = []
    for item in items:
        parts = str(item).strip().split(".")
        if len(parts) >= 2 and parts[-2] in ("header", "querystring"):
            kind = "header" if parts[-2] == "header" else "query"
            sources.append(f"{kind}:{parts[-1].lower() if kind == 'header' else parts[-1]}")
    return tuple(sources) or ("header:authorization",)


def _cognito_issuer(pool_arn: str) -> str:
    """arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID -> the pool's token issuer."""
    region = pool_arn.split(":")[3]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_arn.rsplit('/', 1)[-1]}"
