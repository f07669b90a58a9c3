"""The local cloud is a development tool the project installs (`-e ./localcloud`, requirements-dev.txt), never
deployed: no function or layer imports it or requires it, and `localcloud` is the installed package wherever
the repository root is on the path, not the `localcloud/` project folder there."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

import localcloud
from tests.support.aws import ROOT

DEPLOYED = ("functions", "layers")
PACKAGE = ROOT / "localcloud" / "localcloud" / "__init__.py"


def localcloud_imports(source: str) -> list[int]:
    """The lines that import localcloud: `import`, `from ... import`, and `importlib.import_module` or
    `__import__` of a literal name."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        if any(name == "localcloud" or name.startswith("localcloud.") for name in names):
            lines.append(node.lineno)
    return lines


def deployed(pattern: str) -> list:
    return sorted(path for folder in DEPLOYED for path in (ROOT / folder).rglob(pattern))


def test_no_function_or_layer_imports_localcloud():
    modules = deployed("*.py")
    assert len(modules) > 20, "the scan found no deployed code: were functions/ or layers/ moved?"
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in modules
        for line in localcloud_imports(path.read_text())
    ]
    assert found == []


def test_no_function_or_layer_requires_localcloud():
    requirements = deployed("requirements*.txt")
    assert requirements
    found = [
        str(path.relative_to(ROOT))
        for path in requirements
        if re.search(r"(^|[\s/=])localcloud\b", path.read_text(), re.MULTILINE)
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "import localcloud",
        "import json, localcloud.cloud as cloud",
        "from localcloud import LocalCloud",
        "from localcloud.tokens import TokenIssuer",
        "def handler():\n    from localcloud import cli",
        "importlib.import_module('localcloud.workers')",
        "import_module('localcloud')",
        "__import__('localcloud')",
    ],
)
def test_the_scan_finds_every_way_of_importing_it(source):
    assert localcloud_imports(source) == [source.count("\n") + 1]


@pytest.mark.parametrize(
    "source",
    [
        "import localcloudy",
        "from mylocalcloud import LocalCloud",
        "from . import localcloud",
        "from .localcloud import settings",
        "NAME = 'localcloud'",
    ],
)
def test_the_scan_leaves_other_names_alone(source):
    assert localcloud_imports(source) == []


def test_localcloud_is_the_installed_package_under_pytest():
    assert localcloud.__file__ is not None
    assert localcloud.__file__ == str(PACKAGE)


def test_localcloud_is_the_installed_package_from_the_repository_root():
    """Where `make run` and `python -m localcloud` run: the root's `localcloud/` folder (no `__init__.py`)
    would otherwise be an empty namespace package."""
    command = [sys.executable, "-c", "import localcloud; print(localcloud.__file__)"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == str(PACKAGE)
