"""A SAM template with a REST API (`Type: Api`): payload format 1.0 events exactly as `sam local
generate-event apigateway aws-proxy` shapes them, the stage prefix as API Gateway serves it, the proxy
response mapping, and its Cognito and Lambda token authorizers; and an HTTP API's simple Lambda authorizer."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from localcloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = Path(__file__).parent / "samples" / "rest" / "template.yaml"
TIMEOUT = 60


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(TEMPLATE, port=0, moto_port=0, output=io.StringIO()) as running:
        yield running


def sam_aws_proxy_event() -> dict[str, Any]:
    """What `sam local generate-event apigateway aws-proxy` prints for the request the test makes."""
    sam = str(Path(sys.executable).with_name("sam"))
    command = [
        sam,
        "local",
        "generate-event",
        "apigateway",
        "aws-proxy",
        "--stage",
        "Prod",
        "--method",
        "POST",
    ]
    command += ["--resource", "/items/{proxy+}", "--path", "items/path/to/resource"]
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=True)
    return json.loads(result.stdout)


def shape(value: Any) -> Any:
    """The keys and value types of a document, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def echoed(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["event"]


class TestPayloadFormat1:
    def test_the_event_has_the_keys_and_types_sam_generates(self, cloud: LocalCloud) -> None:
        sample = sam_aws_proxy_event()
        event = echoed(
            requests.post(
                f"{cloud.gateway_url}/Prod/items/path/to/resource?foo=bar",
                data='{"test":"body"}',
                headers={"Content-Type": "application/octet-stream"},
                timeout=TIMEOUT,
            )
        )
        assert set(event) == set(sample)
        assert set(event["requestContext"]) == set(sample["requestContext"])
        assert shape(event["requestContext"]["identity"]) == shape(sample["requestContext"]["identity"])
        assert set(event["headers"]) <= set(sample["headers"]) | {
            "Content-Length",
            "Content-Type",
            "Connection",
        }
        for key in ("resource", "path", "httpMethod", "isBase64Encoded", "body", "queryStringParameters"):
            assert event[key] == sample[key], key
        for key in ("path", "resourcePath", "httpMethod", "stage", "accountId", "protocol"):
            assert event["requestContext"][key] == sample["requestContext"][key], key
        assert event["multiValueQueryStringParameters"] == {"foo": ["bar"]}
        # API Gateway's greedy parameter is the rest of the path (sam's sample puts the whole path there)
        assert event["pathParameters"] == {"proxy": "path/to/resource"}
        assert isinstance(event["requestContext"]["requestTimeEpoch"], int)

    def test_headers_come_single_and_multi_valued(self, cloud: LocalCloud) -> None:
        event = echoed(
            requests.get(f"{cloud.gateway_url}/Prod/hello", headers={"X-Trace": "a"}, timeout=TIMEOUT)
        )
        assert event["headers"]["X-Trace"] == "a"
        assert event["multiValueHeaders"]["X-Trace"] == ["a"]
        assert event["body"] is None
        assert event["isBase64Encoded"] is False
        assert event["queryStringParameters"] is None
        assert event["pathParameters"] is None

    def test_the_implicit_api_serves_under_its_prod_stage(self, cloud: LocalCloud) -> None:
        assert (
            echoed(requests.get(f"{cloud.gateway_url}/Prod/implicit", timeout=TIMEOUT))["resource"]
            == "/implicit"
        )

    def test_multi_value_headers_of_the_response_are_mapped(self, cloud: LocalCloud) -> None:
        response = requests.get(f"{cloud.gateway_url}/Prod/hello", timeout=TIMEOUT)
        assert response.headers["x-seen"] == "one, two"

    def test_a_path_without_the_stage_or_unknown_is_refused_as_a_rest_api_does(
        self, cloud: LocalCloud
    ) -> None:
        assert requests.get(f"{cloud.gateway_url}/hello", timeout=TIMEOUT).status_code == 404
        missing = requests.get(f"{cloud.gateway_url}/Prod/nowhere", timeout=TIMEOUT)
        assert missing.status_code == 403
        assert missing.json() == {"message": "Missing Authentication Token"}


class TestCognitoAuthorizer:
    def test_a_token_of_the_pool_passes_and_its_claims_reach_the_function(self, cloud: LocalCloud) -> None:
        token = cloud.token("carol", authorizer="CognitoAuth")
        event = echoed(
            requests.get(f"{cloud.gateway_url}/Prod/mine", headers={"Authorization": token}, timeout=TIMEOUT)
        )
        claims = event["requestContext"]["authorizer"]["claims"]
        assert claims["sub"] == "carol"
        assert claims["iss"] == f"https://cognito-idp.{cloud.region}.amazonaws.com/{cloud.region}_UserPool"
        assert claims["token_use"] == "id"

    def test_no_token_or_another_issuers_is_unauthorized(self, cloud: LocalCloud) -> None:
        assert requests.get(f"{cloud.gateway_url}/Prod/mine", timeout=TIMEOUT).status_code == 401
        foreign = cloud.issuer.mint("carol", "https://elsewhere.example.com/", None)
        refused = requests.get(
            f"{cloud.gateway_url}/Prod/mine", headers={"Authorization": foreign}, timeout=TIMEOUT
        )
        assert refused.status_code == 401
        assert refused.json() == {"message": "Unauthorized"}

    def test_a_scoped_method_needs_an_access_token_with_the_scope(self, cloud: LocalCloud) -> None:
        url = f"{cloud.gateway_url}/Prod/staff"
        without = cloud.token("carol", authorizer="CognitoAuth")
        assert requests.get(url, headers={"Authorization": without}, timeout=TIMEOUT).status_code == 403
        scoped = cloud.token("carol", scopes=["sample/staff"], authorizer="CognitoAuth")
        assert requests.get(url, headers={"Authorization": scoped}, timeout=TIMEOUT).status_code == 200


class TestLambdaTokenAuthorizer:
    def test_an_allowing_policy_passes_with_its_principal_and_context(self, cloud: LocalCloud) -> None:
        response = requests.post(
            f"{cloud.gateway_url}/Prod/guarded", headers={"Authorization": "Bearer allow"}, timeout=TIMEOUT
        )
        authorizer = echoed(response)["requestContext"]["authorizer"]
        assert authorizer["principalId"] == "user-1"
        assert (authorizer["tier"], authorizer["level"], authorizer["trusted"]) == ("gold", "3", "true")
        asked = next(i for i in reversed(cloud.invocations) if i.function == "AuthorizerFunction")
        assert asked.trigger == "authorizer TokenAuth"

    def test_a_denying_policy_is_forbidden(self, cloud: LocalCloud) -> None:
        response = requests.post(
            f"{cloud.gateway_url}/Prod/guarded", headers={"Authorization": "Bearer deny"}, timeout=TIMEOUT
        )
        assert response.status_code == 403
        assert response.json() == {
            "message": "User is not authorized to access this resource with an explicit deny"
        }

    def test_a_token_failing_the_validation_expression_is_unauthorized_without_a_call(
        self, cloud: LocalCloud
    ) -> None:
        calls = sum(1 for i in cloud.invocations if i.function == "AuthorizerFunction")
        response = requests.post(
            f"{cloud.gateway_url}/Prod/guarded", headers={"Authorization": "Basic x"}, timeout=TIMEOUT
        )
        assert response.status_code == 401
        assert sum(1 for i in cloud.invocations if i.function == "AuthorizerFunction") == calls


class TestHttpApiLambdaAuthorizer:
    def test_a_simple_response_allows_and_its_context_reaches_the_function(self, cloud: LocalCloud) -> None:
        allowed = requests.get(
            f"{cloud.gateway_url}/v1/simple", headers={"Authorization": "Bearer allow"}, timeout=TIMEOUT
        )
        event = echoed(allowed)
        assert event["requestContext"]["authorizer"] == {"lambda": {"tier": "gold", "level": 3}}
        assert event["requestContext"]["stage"] == "v1"
        assert event["rawPath"] == "/v1/simple"
        asked = next(i for i in reversed(cloud.invocations) if i.function == "AuthorizerFunction")
        assert asked.trigger == "authorizer SimpleAuth"

    def test_a_simple_response_denying_is_forbidden(self, cloud: LocalCloud) -> None:
        denied = requests.get(
            f"{cloud.gateway_url}/v1/simple", headers={"Authorization": "Bearer deny"}, timeout=TIMEOUT
        )
        assert denied.status_code == 403
        assert denied.json() == {"message": "Forbidden"}

    def test_without_the_identity_source_it_is_unauthorized(self, cloud: LocalCloud) -> None:
        assert requests.get(f"{cloud.gateway_url}/v1/simple", timeout=TIMEOUT).status_code == 401
