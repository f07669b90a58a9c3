"""The command line: token and invoke, against a running local cloud and against a fresh one. In this
process where no second local cloud is started (only one may run per process), in a child where one is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import jwt
import pytest

from localcloud.cli import main
from localcloud.tokens import SigningKey
from support import SAMPLE

if TYPE_CHECKING:
    from localcloud import LocalCloud


def localcloud(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m localcloud` in a child, from a folder of its own: the installed package, not a checkout."""
    command = [sys.executable, "-m", "localcloud", *args, "--template", str(SAMPLE / "template.yaml")]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    code = main([*args, "--template", str(SAMPLE / "template.yaml")])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)


def test_token_prints_only_an_rs256_jwt_for_the_templates_authorizer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = in_process(
        capsys,
        "token",
        "--customer",
        "wh-1",
        "--scope",
        "sample/staff,sample/admin",
        "--state-dir",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    token = result.stdout.strip()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == SigningKey.load_or_create(tmp_path / "signing-key.pem").kid
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "wh-1"
    assert claims["iss"] == "https://auth.test.example.com/"
    assert claims["aud"] == "sample-clients"
    assert claims["scope"] == "sample/staff sample/admin"
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_invoke_uses_the_running_cloud(cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert cloud.gateway is not None
    port = str(cloud.gateway.port)
    result = in_process(
        capsys, "invoke", "ApiFunction", "--event", str(SAMPLE / "events/echo.json"), "--port", port
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(json.loads(result.stdout)["body"])  # stdout holds the answer and nothing else
    assert body["event"]["rawQueryString"] == "from=file"
    assert f"running local cloud at http://127.0.0.1:{port} (pid" in result.stderr
    assert any(i.trigger == "invoke" and i.function == "ApiFunction" for i in cloud.invocations)


def test_invoke_starts_a_fresh_cloud_when_none_runs(tmp_path: Path) -> None:
    event = str(SAMPLE / "events/echo.json")
    result = localcloud("invoke", "ApiFunction", "--event", event, "--port", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statusCode"] == 200
    assert "starting a fresh one" in result.stderr


def test_invoke_of_an_unknown_function_says_which_exist(capsys: pytest.CaptureFixture[str]) -> None:
    result = in_process(capsys, "invoke", "Nope", "--port", "1")
    assert result.returncode == 2
    assert "ApiFunction" in result.stderr


def test_the_localcloud_command_is_python_m_localcloud(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("localcloud")  # the console script the package installs
    command = [str(script), "token", "--customer", "alice", "--state-dir", str(tmp_path)]
    command += ["--template", str(SAMPLE / "template.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert jwt.decode(result.stdout.strip(), options={"verify_signature": False})["sub"] == "alice"
