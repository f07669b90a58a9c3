"""Every function's handler gets what it uses from a composition root (its context's, or the core's `Wiring`
for the generic ones), as docs/codebase.md says: no handler reads the process environment or makes an AWS
client itself, so settings are read in one place per context and a root given another environment (a test's)
is the whole story."""

from __future__ import annotations

import ast

import pytest

from tests.support.aws import ROOT

HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))


def own_wiring(source: str) -> list[str]:
    """What the module does that a composition root is for: `os.environ`/`os.getenv` and `boto3.client(...)`
    (or `boto3.resource(...)`), with their line numbers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in {("os", "environ"), ("os", "getenv")}:
                found.append(f"line {node.lineno}: os.{node.attr}")
            if (node.value.id, node.attr) in {("boto3", "client"), ("boto3", "resource")}:
                found.append(f"line {node.lineno}: boto3.{node.attr}")
    return found


@pytest.mark.parametrize("handler", HANDLERS, ids=[path.parent.name for path in HANDLERS])
def test_a_handler_asks_its_composition_root(handler):
    assert own_wiring(handler.read_text()) == []


def test_every_function_is_looked_at():
    assert {"event_publisher", "view_rebuilder", "orders_api"} <= {path.parent.name for path in HANDLERS}
