"""The HTTP gateway: routes, JWT authorizer, API Gateway v2 events and response mapping."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import jwt
import requests

from localcloud.tokens import DEV_SECRET

if TYPE_CHECKING:
    from localcloud import LocalCloud


def auth(cloud: LocalCloud, customer: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {cloud.token(customer)}"}


class TestAuthorizer:
    def test_a_request_without_a_token_is_unauthorized(self, cloud: LocalCloud) -> None:
        response = requests.get(f"{cloud.gateway_url}/whoami", timeout=10)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}

    def test_a_token_signed_with_another_key_is_unauthorized(self, cloud: LocalCloud) -> None:
        forged = jwt.encode(
            {"sub": "mallory", "exp": 9999999999}, "another-key-of-enough-length-1234", "HS256"
        )
        response = requests.get(f"{cloud.gateway_url}/whoami", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401

    def test_a_token_for_another_audience_is_unauthorized(self, cloud: LocalCloud) -> None:
        issuer, _ = cloud.token_settings()
        token = jwt.encode(
            {"sub": "a", "iss": issuer, "aud": "other", "exp": 9999999999}, DEV_SECRET, "HS256"
        )
        response = requests.get(f"{cloud.gateway_url}/whoami", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    def test_claims_reach_the_function_as_the_authorizer_gives_them(self, cloud: LocalCloud) -> None:
        response = requests.get(f"{cloud.gateway_url}/whoami", headers=auth(cloud, "alice"), timeout=10)
        assert response.status_code == 200
        jwt_context = response.json()
        assert jwt_context["claims"]["sub"] == "alice"
        assert jwt_context["claims"]["iss"] == "https://auth.test.example.com/"
        assert isinstance(jwt_context["claims"]["exp"], str)

    def test_a_route_with_authorizer_none_is_open(self, cloud: LocalCloud) -> None:
        assert requests.get(f"{cloud.gateway_url}/public/echo", timeout=10).status_code == 200


class TestRouting:
    def test_an_unknown_route_is_not_found(self, cloud: LocalCloud) -> None:
        response = requests.get(f"{cloud.gateway_url}/nowhere", timeout=10)
        assert response.status_code == 404
        assert requests.delete(f"{cloud.gateway_url}/whoami", timeout=10).status_code == 404

    def test_the_event_has_the_payload_2_shape(self, cloud: LocalCloud) -> None:
        response = requests.post(
            f"{cloud.gateway_url}/public/echo?a=1&b=x&a=2",
            data=json.dumps({"hello": "world"}),
            headers={"Content-Type": "application/json", "X-Custom": "Yes", "Cookie": "c1=v1; c2=v2"},
            timeout=10,
        )
        body = response.json()
        event = body["event"]
        assert event["version"] == "2.0"
        assert event["routeKey"] == "ANY /public/echo"
        assert event["rawPath"] == "/public/echo"
        assert event["rawQueryString"] == "a=1&b=x&a=2"
        assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
        assert event["headers"]["x-custom"] == "Yes"
        assert event["cookies"] == ["c1=v1", "c2=v2"]
        assert json.loads(event["body"]) == {"hello": "world"}
        assert event["isBase64Encoded"] is False
        assert event["requestContext"]["http"]["method"] == "POST"
        assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
        assert event["requestContext"]["requestId"]
        assert isinstance(event["requestContext"]["timeEpoch"], int)

    def test_the_function_gets_its_environment_layer_and_context(self, cloud: LocalCloud) -> None:
        body = requests.get(f"{cloud.gateway_url}/public/echo", timeout=10).json()
        env = body["env"]
        assert env["STAGE"] == "test"
        assert env["LOG_LEVEL"] == "INFO"
        assert env["EVENTS_TABLE"] == "sample-events-test" == cloud.physical_id("EventsTable")
        assert env["SEEN_TABLE"] == cloud.physical_id("SeenTable")
        assert env["WORK_QUEUE_URL"] == cloud.physical_id("WorkQueue")
        assert env["GREETING_PARAMETER"] == "/sample/test/greeting"
        assert env["EVENTS_STREAM_ARN"] == cloud.attribute("EventsTable", "StreamArn")
        assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ApiFunction"
        assert body["layer"] == "sampletools-1"
        assert body["context"]["memory_limit_in_mb"] == 256
        assert 0 < body["context"]["remaining_ms"] <= 5000

    def test_path_parameters_and_response_mapping(self, cloud: LocalCloud) -> None:
        pk = f"item-{uuid.uuid4()}"
        created = requests.post(
            f"{cloud.gateway_url}/items", json={"pk": pk, "sk": 1, "kind": "thing"}, headers=auth(cloud)
        )
        assert created.status_code == 201
        assert created.headers["location"] == f"/items/{pk}/1"
        assert created.headers["x-sample"] == "yes"
        assert "seen=1" in created.headers["set-cookie"]
        found = requests.get(f"{cloud.gateway_url}/items/{pk}/1", headers=auth(cloud), timeout=10)
        assert found.status_code == 200
        assert found.json()["kind"] == "thing"
        missing = requests.get(f"{cloud.gateway_url}/items/{pk}/2", headers=auth(cloud), timeout=10)
        assert missing.status_code == 404


class TestMisbehavingFunctions:
    def test_a_raising_function_is_a_500_and_reported(self, cloud: LocalCloud) -> None:
        response = requests.get(f"{cloud.gateway_url}/misbehave/raise", timeout=10)
        assert response.status_code == 500
        reported = [i for i in cloud.invocations if i.trigger == "http GET /misbehave/raise"]
        assert reported[-1].status == "error"
        assert reported[-1].error["errorType"] == "ValueError"
        assert any("asked to raise" in frame for frame in reported[-1].error["stackTrace"])

    def test_a_timeout_kills_the_worker_and_the_next_call_starts_cold(self, cloud: LocalCloud) -> None:
        response = requests.get(f"{cloud.gateway_url}/misbehave/timeout", timeout=10)
        assert response.status_code == 503
        assert cloud.invocations[-1].status == "timeout"
        after = requests.get(f"{cloud.gateway_url}/misbehave/fine", timeout=10)
        assert after.status_code == 200
        assert after.text == "fine"

    def test_garbage_and_bad_shapes_are_500s(self, cloud: LocalCloud) -> None:
        garbage = requests.get(f"{cloud.gateway_url}/misbehave/garbage", timeout=10)
        assert garbage.status_code == 500
        assert cloud.invocations[-1].error["errorType"] == "Runtime.MarshalError"
        assert requests.get(f"{cloud.gateway_url}/misbehave/badshape", timeout=10).status_code == 500

    def test_a_plain_json_result_is_a_200_with_that_body(self, cloud: LocalCloud) -> None:
        response = requests.get(f"{cloud.gateway_url}/misbehave/plain", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"just": "a dict"}

    def test_a_worker_that_exits_is_reported_and_replaced(self, cloud: LocalCloud) -> None:
        assert requests.get(f"{cloud.gateway_url}/misbehave/exit", timeout=10).status_code == 500
        assert cloud.invocations[-1].error["errorType"] == "Runtime.ExitError"
        assert requests.get(f"{cloud.gateway_url}/misbehave/fine", timeout=10).status_code == 200
