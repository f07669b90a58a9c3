"""The command line: token and invoke, against a running local cloud and against a fresh one."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import jwt

from tests.localcloud.conftest import SAMPLE

if TYPE_CHECKING:
    from localcloud import LocalCloud

ROOT = SAMPLE.parents[2]


def localcloud(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "localcloud", *args, "--template", str(SAMPLE / "template.yaml")]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)


def test_token_prints_a_jwt_for_the_templates_authorizer() -> None:
    result = localcloud("token", "--customer", "alice")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["sub"] == "alice"
    assert claims["iss"] == "https://auth.test.example.com/"
    assert claims["aud"] == "sample-clients"
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_invoke_uses_the_running_cloud(cloud: LocalCloud) -> None:
    assert cloud.gateway is not None
    port = str(cloud.gateway.port)
    result = localcloud("invoke", "ApiFunction", "--event", str(SAMPLE / "events/echo.json"), "--port", port)
    assert result.returncode == 0, result.stderr
    body = json.loads(json.loads(result.stdout)["body"])
    assert body["event"]["rawQueryString"] == "from=file"
    assert any(i.trigger == "invoke" and i.function == "ApiFunction" for i in cloud.invocations)


def test_invoke_starts_a_fresh_cloud_when_none_runs() -> None:
    result = localcloud("invoke", "ApiFunction", "--event", str(SAMPLE / "events/echo.json"), "--port", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statusCode"] == 200


def test_invoke_of_an_unknown_function_says_which_exist() -> None:
    result = localcloud("invoke", "Nope", "--port", "1")
    assert result.returncode == 2
    assert "ApiFunction" in result.stderr
