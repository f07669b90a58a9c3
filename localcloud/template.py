"""Reading a SAM template: the YAML with CloudFormation short forms, its parameters, and the function specs.

Everything here is offline and generic: it knows the shape of a SAM template, nothing of what the project in
it does.
"""

from __future__ import annotations

import copy
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
SSM_PARAMETER_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"

__all__ = [
    "ACCOUNT_ID",
    "REGION",
    "FunctionSpec",
    "TemplateError",
    "function_specs",
    "load_template",
    "parameter_values",
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


def samconfig_parameters(template_path: Path, config_env: str = "default") -> dict[str, str]:
    """`parameter_overrides` from samconfig.toml beside the template (deploy section first, then global)."""
    config = template_path.parent / "samconfig.toml"
    if not config.exists():
        return {}
    settings = tomllib.loads(config.read_text()).get(config_env, {})
    for section in ("deploy", "global"):
        overrides = settings.get(section, {}).get("parameters", {}).get("parameter_overrides")
        if overrides:
            return parse_overrides(overrides)
    return {}


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
    template: dict[str, Any], template_path: Path, overrides: dict[str, str] | None = None
) -> dict[str, Any]:
    """Every parameter's value: defaults, then samconfig.toml, then overrides; plus pseudo parameters.

    Parameters of type `AWS::SSM::Parameter::Value<...>` get a placeholder: locally nothing behind them
    exists (the typical one is the Powertools layer ARN, and Powertools comes from the virtualenv instead).
    """
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        if "Default" in spec:
            values[name] = spec["Default"]
    values.update(samconfig_parameters(template_path))
    values.update(overrides or {})
    for name, spec in template.get("Parameters", {}).items():
        if spec.get("Type", "").startswith(SSM_PARAMETER_TYPE_PREFIX):
            values[name] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:localcloud-placeholder-{name}:1"
        elif name not in values:
            raise TemplateError(
                f"parameter {name} has no Default; give it with --parameter-overrides {name}=..."
            )
        elif spec.get("Type") == "CommaDelimitedList" and isinstance(values[name], str):
            values[name] = [item.strip() for item in values[name].split(",")]
    values.update(
        {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "localcloud",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/localcloud/local",
            "AWS::NoValue": None,
        }
    )
    return values


@dataclass
class FunctionSpec:
    """One AWS::Serverless::Function with Globals merged; intrinsic values still unresolved."""

    logical_id: str
    properties: dict[str, Any]
    code_path: Path
    layer_paths: list[Path] = field(default_factory=list)

    @property
    def handler(self) -> str:
        return self.properties["Handler"]

    @property
    def timeout(self) -> float:
        return float(self.properties.get("Timeout", 3))

    @property
    def memory_size(self) -> int:
        return int(self.properties.get("MemorySize", 128))

    @property
    def environment(self) -> dict[str, Any]:
        return self.properties.get("Environment", {}).get("Variables", {})

    @property
    def events(self) -> dict[str, dict[str, Any]]:
        return self.properties.get("Events", {})


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge key by key, lists concatenate (globals first), scalars: local wins."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = copy.deepcopy(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return copy.deepcopy(global_value) + copy.deepcopy(local_value)
    return copy.deepcopy(local_value)


def function_specs(template: dict[str, Any], template_path: Path) -> list[FunctionSpec]:
    """The template's functions with their code and layer folders (layers given as !Ref to a LayerVersion).

    Layers given as ARNs (a Powertools layer, say) are skipped: their content is expected in the virtualenv.
    """
    base = template_path.parent
    resources = template["Resources"]
    global_properties = template.get("Globals", {}).get("Function", {})
    specs = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = merge_globals(global_properties, resource.get("Properties", {}))
        code_uri = properties.get("CodeUri")
        if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
            raise TemplateError(
                f"{logical_id}: CodeUri must be a local folder to run locally, got {code_uri!r}"
            )
        if properties.get("PackageType", "Zip") != "Zip" or "Handler" not in properties:
            raise TemplateError(f"{logical_id}: only Zip functions with a Handler run locally")
        layer_paths = []
        for layer in properties.get("Layers", []):
            target = layer.get("Ref") if isinstance(layer, dict) else None
            layer_resource = resources.get(target or "", {})
            if layer_resource.get("Type") == "AWS::Serverless::LayerVersion":
                content_uri = layer_resource.get("Properties", {}).get("ContentUri")
                if isinstance(content_uri, str):
                    layer_paths.append((base / content_uri).resolve())
        specs.append(FunctionSpec(logical_id, properties, (base / code_uri).resolve(), layer_paths))
    return specs
