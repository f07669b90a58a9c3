"""The HTTP API's OpenAPI 3.1 document (docs/openapi.json), generated from the handlers' own resolvers: every
function with HttpApi events in template.yaml is imported the way Lambda would import it (offline, in a
made-up environment) and asked for its schema by Powertools; the schemas are merged into one document, with
the JWT authorizer and each route's scopes as the template declares them.

The template and the code must agree: a route the template sends to a function that does not serve it, or
one the function serves that the template never routes, fails the generation, as does a path or a
component two functions define differently."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sys
import tomllib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

from ops.template import ROOT, TEMPLATE, load_sam

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DOCUMENT = ROOT / "docs" / "openapi.json"
LAYERS = ("eventcore", "orders", "payments", "inventory", "shipping")
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Powertools adds its own validation error shapes to every schema; this API answers with Problem instead.
POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
# What an import needs and may not use: any AWS call made while importing fails fast against a closed port.
OFFLINE_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "OpenApiGeneration",
}

DESCRIPTION = """\
Orders, shipping, inventory and privacy routes of the orders microsystem's HTTP API (API Gateway HTTP API,
Lambda behind every route).

**Authentication.** Every route needs a JWT in `Authorization: Bearer <token>`, verified by the HTTP API's
JWT authorizer (issuer, audience, expiry, signature). The customer is the token's `sub`. Staff routes also
need a scope: `orders/warehouse` for shipments and inventory, `orders/privacy` for erasing a customer's
personal data; a token without it is refused with 403.

**Errors.** Every error has one shape, `Problem`: `{"message": "...", "errors": [{"field": "...",
"problem": "..."}]}`. What the functions answer always carries `errors` (empty when no one field is at
fault); API Gateway's own refusals (401, 403, a route that does not exist, a function that failed) carry
only `message`, and a 401 or 403 from the authorizer says why in `www-authenticate`. A method a path does
not have is answered 404, as API Gateway answers it.

**Limits.** A body is JSON (`Content-Type: application/json`), at most 65,536 bytes, nested at most 32
levels deep. An order has 1 to 50 lines, each a quantity of 1 to 100. `Idempotency-Key` is 1 to 255
printable ASCII characters; a customer id (`sub`) 1 to 128 printable characters. Money is in minor units
(cents) of `currency`; times are ISO 8601 in UTC. See docs/api.md.
"""


class OpenApiError(Exception):
    """The document cannot be generated: the template and the code disagree, or two functions collide."""


@dataclass(frozen=True)
class HttpRoute:
    function: str  # the logical id
    method: str  # lower case
    path: str  # /orders/{order_id}
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class HttpFunction:
    logical_id: str
    code_uri: str
    environment: dict[str, str]
    routes: tuple[HttpRoute, ...]


def http_functions(template: Path = TEMPLATE) -> list[HttpFunction]:
    """Every function the template routes HTTP API requests to, with its routes and their scopes."""
    sam = load_sam(template)
    functions = []
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        routes = tuple(
            HttpRoute(
                logical_id,
                event["Properties"]["Method"].lower(),
                event["Properties"]["Path"],
                tuple(event["Properties"].get("Auth", {}).get("AuthorizationScopes", ())),
            )
            for event in properties.get("Events", {}).values()
            if event["Type"] == "HttpApi"
        )
        if not routes:
            continue
        environment = offline_environment(logical_id, sam)
        functions.append(HttpFunction(logical_id, properties["CodeUri"], environment, routes))
    return sorted(functions, key=lambda function: function.code_uri)


def offline_environment(logical_id: str, sam: dict[str, Any]) -> dict[str, str]:
    """The function's environment as the template gives it, each value made offline (`_offline_value`)."""
    defaults = {name: str(p["Default"]) for name, p in sam.get("Parameters", {}).items() if "Default" in p}
    global_env = sam.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    properties = sam["Resources"][logical_id]["Properties"]
    variables = {**global_env, **properties.get("Environment", {}).get("Variables", {})}
    conditions = sam.get("Conditions", {})
    return {name: _offline_value(name, value, defaults, conditions) for name, value in variables.items()}


def _holds(condition: Any, defaults: dict[str, str], conditions: dict[str, Any]) -> bool:
    """A template condition, evaluated with the parameters' defaults (Equals, Not, And, Or, Condition)."""
    if isinstance(condition, dict):
        if "Condition" in condition:
            return _holds(conditions[condition["Condition"]], defaults, conditions)
        if "Fn::Equals" in condition:
            left, right = (
                defaults.get(side["Ref"], "") if isinstance(side, dict) else str(side)
                for side in condition["Fn::Equals"]
            )
            return left == right
        if "Fn::Not" in condition:
            return not _holds(condition["Fn::Not"][0], defaults, conditions)
        if "Fn::And" in condition:
            return all(_holds(part, defaults, conditions) for part in condition["Fn::And"])
        if "Fn::Or" in condition:
            return any(_holds(part, defaults, conditions) for part in condition["Fn::Or"])
    raise ValueError(f"not a condition this offline environment evaluates: {condition!r}")


def _offline_value(
    name: str, value: Any, defaults: dict[str, str], conditions: dict[str, Any] | None = None
) -> str:
    """A literal as the template gives it, a parameter's default, or a name of its own for a resource; a
    `!Sub` string with each `${...}` so replaced (`VIEW_TABLES`' JSON stays JSON); an `!If` as the
    parameters' defaults decide it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::If"), list) and conditions is not None:
        condition, when, otherwise = value["Fn::If"]
        chosen = when if _holds(conditions[condition], defaults, conditions) else otherwise
        return _offline_value(name, chosen, defaults, conditions)
    if isinstance(value, dict) and value.get("Ref") in defaults:
        return defaults[value["Ref"]]
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return _SUBSTITUTION.sub(
            lambda match: defaults.get(match[1], f"offline-{match[1].lower()}"), value["Fn::Sub"]
        )
    return f"offline-{name.lower()}"


@contextlib.contextmanager
def offline(environment: dict[str, str]) -> Iterator[None]:
    """The layers on the path and the environment set as Lambda would, any AWS endpoint a closed port."""
    saved = dict(os.environ)
    # Powertools keeps one parameters provider per service for the process, with the client it was built
    # with: one built here would point every later read in this process at the closed port, and one built
    # before (in a test, against moto) would send this one's reads to AWS itself, each refused only after
    # botocore's retries. None is kept in between.
    providers = dict(DEFAULT_PROVIDERS)
    DEFAULT_PROVIDERS.clear()
    added = [str(ROOT / "layers" / layer) for layer in LAYERS if str(ROOT / "layers" / layer) not in sys.path]
    sys.path[:0] = added
    os.environ.update({**OFFLINE_ENVIRONMENT, **environment})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        DEFAULT_PROVIDERS.clear()
        DEFAULT_PROVIDERS.update(providers)
        for path in added:
            sys.path.remove(path)


@contextlib.contextmanager
def offline_handler(logical_id: str, code_uri: str, environment: dict[str, str]) -> Iterator[Any]:
    """The function's handler module, imported as Lambda would import it, inside `offline(environment)`."""
    path = ROOT / code_uri / "app.py"
    module_name = f"offline_{logical_id}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise OpenApiError(f"{logical_id}: no handler module at {path}")
    module = importlib.util.module_from_spec(spec)
    with offline(environment):
        sys.modules[module_name] = module  # pydantic resolves the models' annotations through it
        sys.path.insert(0, str(path.parent))
        try:
            spec.loader.exec_module(module)
            yield module
        finally:
            sys.path.remove(str(path.parent))
            del sys.modules[module_name]


def function_schema(function: HttpFunction) -> dict[str, Any]:
    """The function's own OpenAPI schema, from the Powertools resolver its module builds (`app`)."""
    with offline_handler(function.logical_id, function.code_uri, function.environment) as module:
        schema = module.app.get_openapi_schema()
    document: dict[str, Any] = schema.model_dump(by_alias=True, exclude_none=True, mode="json")
    return document


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def generate(template: Path = TEMPLATE) -> dict[str, Any]:
    """The whole API's document."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for function in http_functions(template):
        schema = function_schema(function)
        served = {(method, path) for path, method, _ in _operations(schema)}
        routed = {(route.method, route.path): route for route in function.routes}
        if served != set(routed):
            raise OpenApiError(
                f"{function.logical_id}: the template routes {sorted(set(routed) - served)} to it, which it "
                f"does not serve; it serves {sorted(served - set(routed))}, which the template does not route"
            )
        for path, method, operation in _operations(schema):
            if method in paths.get(path, {}):
                raise OpenApiError(f"{method.upper()} {path}: served by {function.logical_id} and another")
            scopes = list(routed[(method, path)].scopes)
            if scopes:
                operation["security"] = [{"OrdersJwt": scopes}]
            paths.setdefault(path, {})[method] = _tidy(operation)
        for name, component in schema.get("components", {}).get("schemas", {}).items():
            if name in POWERTOOLS_SCHEMAS:
                continue
            if name in schemas and schemas[name] != component:
                raise OpenApiError(
                    f"schema {name}: {owners[name]} and {function.logical_id} define it differently"
                )
            schemas[name] = component
            owners.setdefault(name, function.logical_id)
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Orders microsystem API", "version": _version(), "description": DESCRIPTION},
        "servers": [{"url": "http://127.0.0.1:3000", "description": "the local cloud (make run)"}],
        "security": [{"OrdersJwt": []}],
        "tags": [
            {"name": "Orders", "description": "A customer's orders: the token's subject is the customer."},
            {"name": "Warehouse", "description": "Staff routes: scope orders/warehouse."},
            {"name": "Privacy", "description": "Erasure of personal data: staff need scope orders/privacy."},
        ],
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {
            "schemas": {name: schemas[name] for name in sorted(schemas)},
            "securitySchemes": {
                "OrdersJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The HTTP API's JWT authorizer (template.yaml, OrdersJwt): a token of the "
                    "configured issuer and audience; staff scopes in its `scope` claim.",
                }
            },
        },
    }
    _require_references_resolve(document)
    return document


# Powertools (3.37) writes a parameter's pydantic bounds under pydantic's names, which JSON Schema ignores.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _tidy(operation: dict[str, Any]) -> dict[str, Any]:
    """A 304 has no body, whatever Powertools infers from the handler's return type; a parameter's bounds
    are JSON Schema's `minimum` and `maximum`."""
    for status, response in operation.get("responses", {}).items():
        if str(status) == "304":
            response.pop("content", None)
    for parameter in operation.get("parameters", []):
        _json_schema_bounds(parameter.get("schema", {}))
    return operation


def _json_schema_bounds(schema: dict[str, Any]) -> None:
    for pydantic_name, json_schema_name in _BOUNDS.items():
        if pydantic_name in schema:
            schema[json_schema_name] = schema.pop(pydantic_name)
    for branch in schema.get("anyOf", []):
        _json_schema_bounds(branch)


def _require_references_resolve(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    names = set(document["components"]["schemas"])
    for name in POWERTOOLS_SCHEMAS:
        if f'"#/components/schemas/{name}"' in text:
            raise OpenApiError(f"an operation answers Powertools' {name}: give it problem_responses(422)")
    for reference in {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}:
        if reference not in names:
            raise OpenApiError(f"unresolved reference to schema {reference}")


def _version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
