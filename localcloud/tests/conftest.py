"""The local cloud's own tests, a folder of plain modules (no `__init__.py`: a host project's `tests` package
keeps its name). `support.py` holds what they share; `sample/` is the sample template most of them run, and
`samples/` more sample templates for the event types it does not have."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake account in one region, as on a machine with no AWS configuration: nothing of the developer's
    (a profile, an endpoint, real credentials) reaches the local clouds these tests start."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist's `--dist loadgroup`, a file's tests stay on one worker, so that its module fixtures
    (a local cloud each) start once. Only this folder's tests: a host project's own conftest groups its
    own (the orders project's tests/conftest.py gives these the same groups: the file's path)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(config.rootpath).as_posix()))
