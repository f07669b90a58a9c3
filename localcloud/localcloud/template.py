"""Reading a SAM template: the YAML with CloudFormation short forms, its parameters, and the region.

Everything here is offline and generic: it knows the shape of a SAM template, nothing of what the project in
it does. What the template declares (functions, layers, triggers, routes) is read from the SAM translator's
output instead (`translate.py`), which holds it exactly.
"""

from __future__ import annotations

import os
import shlex
import tomllib
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

DEFAULT_REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
SSM_PARAMETER_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"
STACK_NAME = "localcloud"

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_REGION",
    "STACK_NAME",
    "TemplateError",
    "load_template",
    "parameter_values",
    "parse_overrides",
    "region_for",
]


class TemplateError(Exception):
    """The template cannot be run locally; the message says what and where."""


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain dicts, short forms (!Ref, !Sub ...) turned into their long `Fn::` forms."""
    try:
        template = yaml_parse(path.read_text())
    except FileNotFoundError as exc:
        raise TemplateError(f"no template at {path}") from exc
    if not isinstance(template, dict) or "Resources" not in template:
        raise TemplateError(f"{path} has no Resources section")
    return _plain(template)


def _plain(value: Any) -> Any:
    """OrderedDicts from the YAML loader to dicts, so the rest compares and prints simply."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _samconfig(template_path: Path, config_env: str = "default") -> dict[str, Any]:
    """samconfig.toml beside the template, the `config_env` table (empty if there is none)."""
    config = template_path.parent / "samconfig.toml"
    if not config.exists():
        return {}
    return tomllib.loads(config.read_text()).get(config_env, {})


def _samconfig_setting(template_path: Path, name: str) -> Any:
    """A setting as the SAM CLI reads it for deploy: the deploy section first, then global."""
    settings = _samconfig(template_path)
    for section in ("deploy", "global"):
        value = settings.get(section, {}).get("parameters", {}).get(name)
        if value:
            return value
    return None


def region_for(template_path: Path) -> str:
    """`AWS_REGION`, else samconfig.toml's region (deploy, then global), else eu-west-1."""
    return os.environ.get("AWS_REGION") or _samconfig_setting(template_path, "region") or DEFAULT_REGION


def parse_overrides(overrides: str | list[str]) -> dict[str, str]:
    """`K=V K2="v 2"` (the SAM CLI form) or a list of `K=V`, to a dict."""
    pairs = shlex.split(overrides) if isinstance(overrides, str) else list(overrides)
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise TemplateError(f"parameter override {pair!r} is not of the form Key=Value")
        result[key] = value
    return result


def parameter_values(
    template: dict[str, Any],
    template_path: Path,
    overrides: dict[str, str] | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Every parameter's value: defaults, then samconfig.toml, then overrides; plus pseudo parameters.

    Parameters of type `AWS::SSM::Parameter::Value<...>` get a placeholder: locally nothing behind them
    exists (the typical one is the Powertools layer ARN, and Powertools comes from the virtualenv instead).
    """
    region = region or region_for(template_path)
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        if "Default" in spec:
            values[name] = spec["Default"]
    configured = _samconfig_setting(template_path, "parameter_overrides")
    values.update(parse_overrides(configured) if configured else {})
    values.update(overrides or {})
    for name, spec in template.get("Parameters", {}).items():
        if spec.get("Type", "").startswith(SSM_PARAMETER_TYPE_PREFIX):
            values[name] = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:localcloud-placeholder-{name}:1"
        elif name not in values:
            raise TemplateError(
                f"parameter {name} has no Default; give it with --parameter-overrides {name}=..."
            )
        elif spec.get("Type") == "CommaDelimitedList" and isinstance(values[name], str):
            values[name] = [item.strip() for item in values[name].split(",")]
    values.update(
        {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
            "AWS::NoValue": None,
        }
    )
    return values
