"""docs/openapi.json is what the handlers generate (`make openapi`), a valid OpenAPI 3.1 document, and it
describes every route the template sends to a function, with the template's scopes."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ops.openapi import DOCUMENT, generate, http_functions, render


def test_the_committed_document_is_what_the_handlers_generate():
    assert DOCUMENT.read_text() == render(generate()), "docs/openapi.json is stale: run `make openapi`"


def test_the_document_is_valid_openapi_3_1():
    document = json.loads(DOCUMENT.read_text())
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_routed_operation_is_documented_with_the_templates_scopes():
    document = json.loads(DOCUMENT.read_text())
    routes = [route for function in http_functions() for route in function.routes]
    assert len(routes) == 16
    for route in routes:
        operation = document["paths"][route.path][route.method]
        security = operation.get("security", document["security"])
        assert security == [{"OrdersJwt": list(route.scopes)}], (route.method, route.path)


def test_every_error_answer_is_the_one_problem_shape():
    document = json.loads(DOCUMENT.read_text())
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, status
    problem = document["components"]["schemas"]["Problem"]
    assert problem["required"] == ["message"]  # the gateway's own answers have no `errors`


def _schemas_in(value):
    """Every JSON Schema of the document: a dict with a `type`, an `anyOf` or a `$ref`, nested or not."""
    if isinstance(value, dict):
        if {"type", "anyOf", "$ref"} & set(value):
            yield value
        for item in value.values():
            yield from _schemas_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _schemas_in(item)


def test_every_bound_is_in_json_schema_terms():
    # pydantic's names (ge, le, gt, lt) would be ignored by every client generator and by Schemathesis.
    document = json.loads(DOCUMENT.read_text())
    for schema in _schemas_in(document["paths"]):
        assert not {"ge", "le", "gt", "lt"} & set(schema), schema


def test_the_limits_of_the_command_api_are_documented():
    document = json.loads(DOCUMENT.read_text())
    schemas = document["components"]["schemas"]
    lines = schemas["PlaceOrderRequest"]["properties"]["lines"]
    assert (lines["minItems"], lines["maxItems"]) == (1, 50)
    quantity = schemas["LineRequest"]["properties"]["quantity"]
    assert (quantity["exclusiveMinimum"], quantity["maximum"]) == (0, 100)
    [key] = [p for p in document["paths"]["/orders"]["post"]["parameters"] if p["in"] == "header"]
    assert key["schema"]["anyOf"][0]["maxLength"] == 255
    assert "65,536 bytes" in document["info"]["description"]
    limit = document["paths"]["/orders"]["get"]["parameters"][0]["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 100)


def test_every_example_is_valid_against_its_schema():
    document = json.loads(DOCUMENT.read_text())
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", resource)
    examples = 0
    for name, schema in document["components"]["schemas"].items():
        validator = Draft202012Validator(
            {"$ref": f"urn:openapi#/components/schemas/{name}"}, registry=registry
        )
        for example in schema.get("examples", []):
            validator.validate(example)
            examples += 1
    assert examples >= 5
