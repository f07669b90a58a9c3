"""The HTTP gateway: routes, the JWT authorizer as API Gateway runs it, payload 2.0 events, responses."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from localcloud.tokens import SigningKey, TokenIssuer
from support import wait_until

if TYPE_CHECKING:
    from localcloud import LocalCloud

TIMEOUT = 60  # a cold worker on a loaded machine: the gateway waits for it, so may the client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def auth(cloud: LocalCloud, customer: str = "alice") -> dict[str, str]:
    return bearer(cloud.token(customer))


def get(cloud: LocalCloud, path: str, **kwargs: object) -> requests.Response:
    return requests.get(f"{cloud.gateway_url}{path}", timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]


def assert_refused(response: requests.Response, status: int, description: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"message": {401: "Unauthorized", 403: "Forbidden"}[status]}
    error = "insufficient_scope" if status == 403 else "invalid_token"
    assert f'error="{error}"' in response.headers["www-authenticate"]
    assert f'error_description="{description}"' in response.headers["www-authenticate"]


class TestJwtAuthorizer:
    def test_a_request_without_a_token_is_unauthorized(self, cloud: LocalCloud) -> None:
        assert_refused(get(cloud, "/whoami"), 401, "the request has no token")

    def test_a_token_for_another_audience_is_unauthorized(self, cloud: LocalCloud) -> None:
        response = get(cloud, "/whoami", headers=bearer(cloud.token("alice", audience="other-clients")))
        assert_refused(response, 401, "the token does not have a valid audience")
        assert response.headers["www-authenticate"].startswith('Bearer scope="" error="invalid_token"')

    def test_an_expired_token_is_unauthorized(self, cloud: LocalCloud) -> None:
        expired = cloud.token("alice", lifetime=-60)
        assert_refused(get(cloud, "/whoami", headers=bearer(expired)), 401, "the token has expired")

    def test_a_token_not_valid_yet_is_unauthorized(self, cloud: LocalCloud) -> None:
        issuer, audience = cloud.token_settings()
        early = cloud.issuer.mint("alice", issuer, audience, extra={"nbf": int(time.time()) + 3600})
        assert_refused(get(cloud, "/whoami", headers=bearer(early)), 401, "the token is not valid yet")

    def test_a_token_signed_with_another_key_is_unauthorized(self, cloud: LocalCloud) -> None:
        issuer, audience = cloud.token_settings()
        stranger = SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        forged = TokenIssuer(stranger).mint("mallory", issuer, audience)
        assert_refused(
            get(cloud, "/whoami", headers=bearer(forged)), 401, "the token's kid is not in the issuer's JWKS"
        )
        same_kid = jwt.encode(
            {"sub": "mallory", "iss": issuer, "aud": audience, "exp": int(time.time()) + 60},
            stranger.private_key,
            "RS256",
            headers={"kid": cloud.issuer.key.kid},
        )
        assert_refused(get(cloud, "/whoami", headers=bearer(same_kid)), 401, "the token signature is invalid")

    def test_an_hs256_token_is_unauthorized(self, cloud: LocalCloud) -> None:
        issuer, audience = cloud.token_settings()
        hs256 = jwt.encode({"sub": "a", "iss": issuer, "aud": audience, "exp": 9999999999}, "k" * 32, "HS256")
        assert_refused(
            get(cloud, "/whoami", headers=bearer(hs256)), 401, "the token is not signed with RS256"
        )

    def test_another_issuer_is_unauthorized(self, cloud: LocalCloud) -> None:
        _, audience = cloud.token_settings()
        other = cloud.issuer.mint("alice", "https://elsewhere.example.com/", audience)
        assert_refused(
            get(cloud, "/whoami", headers=bearer(other)), 401, "the token does not have a valid issuer"
        )

    def test_client_id_counts_as_the_audience_when_there_is_no_aud(self, cloud: LocalCloud) -> None:
        issuer, audience = cloud.token_settings()
        access_token = cloud.issuer.mint("svc", issuer, None, client_id=audience)
        assert get(cloud, "/whoami", headers=bearer(access_token)).status_code == 200

    def test_claims_reach_the_function_as_the_authorizer_gives_them(self, cloud: LocalCloud) -> None:
        response = get(cloud, "/whoami", headers=auth(cloud, "alice"))
        assert response.status_code == 200
        jwt_context = response.json()
        assert jwt_context["claims"]["sub"] == "alice"
        assert jwt_context["claims"]["iss"] == "https://auth.test.example.com/"
        assert jwt_context["claims"]["aud"] == "sample-clients"
        assert isinstance(jwt_context["claims"]["exp"], str)
        assert jwt_context["scopes"] is None

    def test_a_route_with_authorizer_none_is_open(self, cloud: LocalCloud) -> None:
        assert get(cloud, "/public/echo").status_code == 200


class TestRouteScopes:
    def test_a_valid_token_without_the_routes_scope_is_forbidden(self, cloud: LocalCloud) -> None:
        response = get(cloud, "/staff/whoami", headers=bearer(cloud.token("bob", scopes=["sample/other"])))
        assert_refused(response, 403, "the token does not have the required scope")
        assert 'scope="sample/staff sample/admin"' in response.headers["www-authenticate"]

    def test_one_of_the_routes_scopes_is_enough_and_reaches_the_function(self, cloud: LocalCloud) -> None:
        response = get(
            cloud, "/staff/whoami", headers=bearer(cloud.token("wh-1", scopes=["sample/admin", "x"]))
        )
        assert response.status_code == 200
        assert response.json()["scopes"] == ["sample/admin", "x"]
        assert response.json()["claims"]["scope"] == "sample/admin x"

    def test_a_refusal_is_reported_with_its_reason(self, cloud: LocalCloud) -> None:
        get(cloud, "/staff/whoami", headers=auth(cloud))
        refusal = cloud.reporter.refusals[-1]
        assert (refusal.path, refusal.status) == ("/staff/whoami", 403)
        assert refusal.reason == "the token does not have the required scope"


class TestIssuer:
    def test_the_discovery_document_and_jwks_verify_the_dev_tokens(self, cloud: LocalCloud) -> None:
        discovery = get(cloud, "/_localcloud/oidc/.well-known/openid-configuration").json()
        issuer, audience = cloud.token_settings()
        assert discovery["issuer"] == issuer
        assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
        token = cloud.token("alice")
        signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=audience, issuer=issuer)
        assert claims["sub"] == "alice"
        assert jwt.get_unverified_header(token)["kid"] == signing_key.key_id


class TestRouting:
    def test_an_unknown_route_is_not_found(self, cloud: LocalCloud) -> None:
        response = get(cloud, "/nowhere")
        assert response.status_code == 404
        assert response.json() == {"message": "Not Found"}
        assert requests.delete(f"{cloud.gateway_url}/whoami", timeout=TIMEOUT).status_code == 404

    def test_a_body_over_the_payload_limit_is_refused(self, cloud: LocalCloud) -> None:
        response = requests.post(
            f"{cloud.gateway_url}/public/echo", data=b"x" * (10 * 1024 * 1024 + 1), timeout=TIMEOUT
        )
        assert response.status_code == 413
        assert response.json() == {"message": "Request Entity Too Large"}

    def test_the_event_has_the_payload_2_shape(self, cloud: LocalCloud) -> None:
        response = requests.post(
            f"{cloud.gateway_url}/public/echo?a=1&b=x&a=2",
            data=json.dumps({"hello": "world"}),
            headers={"Content-Type": "application/json", "X-Custom": "Yes", "Cookie": "c1=v1; c2=v2"},
            timeout=TIMEOUT,
        )
        event = response.json()["event"]
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
        assert event["requestContext"]["stage"] == "$default"
        assert event["requestContext"]["requestId"]
        assert isinstance(event["requestContext"]["timeEpoch"], int)

    def test_the_function_gets_its_environment_layer_and_context(self, cloud: LocalCloud) -> None:
        body = get(cloud, "/public/echo").json()
        env = body["env"]
        assert env["STAGE"] == "test"
        assert env["LOG_LEVEL"] == "INFO"
        assert env["EVENTS_TABLE"] == "sample-events-test" == cloud.physical_id("EventsTable")
        assert env["SEEN_TABLE"] == cloud.physical_id("SeenTable")
        assert env["WORK_QUEUE_URL"] == cloud.physical_id("WorkQueue")
        assert env["GREETING_PARAMETER"] == "/sample/test/greeting"
        assert env["EVENTS_STREAM_ARN"] == cloud.attribute("EventsTable", "StreamArn")
        assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ApiFunction"
        assert env["AWS_REGION"] == cloud.region
        assert body["layer"] == "sampletools-1"
        assert body["context"]["memory_limit_in_mb"] == 256
        assert 0 < body["context"]["remaining_ms"] <= 5000

    def test_path_parameters_and_response_mapping(self, cloud: LocalCloud) -> None:
        pk = f"item-{uuid.uuid4()}"
        created = requests.post(
            f"{cloud.gateway_url}/items",
            json={"pk": pk, "sk": 1, "kind": "thing"},
            headers=auth(cloud),
            timeout=TIMEOUT,
        )
        assert created.status_code == 201
        assert created.headers["location"] == f"/items/{pk}/1"
        assert created.headers["x-sample"] == "yes"
        assert "seen=1" in created.headers["set-cookie"]
        found = get(cloud, f"/items/{pk}/1", headers=auth(cloud))
        assert found.status_code == 200
        assert found.json()["kind"] == "thing"
        assert get(cloud, f"/items/{pk}/2", headers=auth(cloud)).status_code == 404


class TestMisbehavingFunctions:
    def test_a_raising_function_is_a_500_and_reported(self, cloud: LocalCloud) -> None:
        response = get(cloud, "/misbehave/raise")
        assert response.status_code == 500
        assert response.json() == {"message": "Internal Server Error"}
        reported = [i for i in cloud.invocations if i.trigger == "http GET /misbehave/{how}"]
        assert reported[-1].status == "error"
        assert reported[-1].http_status == 500
        error = reported[-1].error
        assert error is not None
        assert error["errorType"] == "ValueError"
        assert any("asked to raise" in frame for frame in error["stackTrace"])

    def test_a_timeout_kills_the_worker_and_the_next_call_starts_cold(self, cloud: LocalCloud) -> None:
        response = get(cloud, "/misbehave/timeout")
        assert response.status_code == 503
        assert response.json() == {"message": "Service Unavailable"}
        assert cloud.invocations[-1].status == "timeout"
        after = get(cloud, "/misbehave/fine")
        assert after.status_code == 200
        assert after.text == "fine"

    def test_garbage_and_bad_shapes_are_500s(self, cloud: LocalCloud) -> None:
        garbage = get(cloud, "/misbehave/garbage")
        assert garbage.status_code == 500
        assert (cloud.invocations[-1].error or {})["errorType"] == "Runtime.MarshalError"
        assert get(cloud, "/misbehave/badshape").status_code == 500

    def test_a_plain_json_result_is_a_200_with_that_body(self, cloud: LocalCloud) -> None:
        response = get(cloud, "/misbehave/plain")
        assert response.status_code == 200
        assert response.json() == {"just": "a dict"}

    def test_a_worker_that_exits_during_an_invocation_fails_it_and_is_replaced(
        self, cloud: LocalCloud
    ) -> None:
        assert get(cloud, "/misbehave/exit").status_code == 500
        assert (cloud.invocations[-1].error or {})["errorType"] == "Runtime.ExitError"
        assert get(cloud, "/misbehave/fine").status_code == 200


@pytest.mark.parametrize("path", ["/misbehave/fine", "/public/echo"])
def test_a_worker_killed_while_idle_never_fails_the_next_request(cloud: LocalCloud, path: str) -> None:
    import os
    import signal

    assert get(cloud, path).status_code == 200
    runtime = cloud.functions.find(cloud.invocations[-1].function)
    wait_until(lambda: runtime.idle_pids, timeout=60)
    for pid in runtime.idle_pids:
        os.kill(pid, signal.SIGKILL)
    # GIVEN every worker of the function was killed while idle, WHEN the next request comes at once
    response = get(cloud, path)
    # THEN it is served by a replacement, not failed
    assert response.status_code == 200
    assert cloud.invocations[-1].ok
