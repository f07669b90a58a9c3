"""docs/openapi.json is what the handlers generate (`make openapi`), a valid OpenAPI 3.1 document, and it
describes every route the template sends to a function, with the template's scopes."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

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
    assert len(routes) == 13
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
