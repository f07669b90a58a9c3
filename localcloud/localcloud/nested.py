"""Nested applications with a local template, merged into the parent's translated template.

`AWS::Serverless::Application` with a `Location` that is a file path (relative to the template, as `sam build`
takes it) becomes, once translated, an `AWS::CloudFormation::Stack` whose TemplateURL is that path; so is a
hand-written `AWS::CloudFormation::Stack`. moto cannot create one (it would fetch the URL). The local cloud
translates the nested template as it does the parent (its Globals, functions, events, nested applications of
its own) and merges it into the parent:

- its resources, conditions and mappings join the parent's under the application's logical id as a prefix
  (`Operations` + `Dashboard` = `OperationsDashboard`), every reference among them renamed to match;
- each of its parameters is replaced by what the parent passes in the application's `Parameters` (a value, or
  a Ref, GetAtt or Sub of the parent's resources and parameters), else by its Default;
- its `AWS::StackName` is the nested stack's name (`localcloud-Operations`);
- the parent's `Fn::GetAtt [App, Outputs.Name]` (and `${App.Outputs.Name}` in a Sub) becomes the output's
  value, `Ref App` the nested stack's id, and `DependsOn: App` every resource of the application.

Merged rather than created as a moto stack of its own: one template gives moto's CloudFormation one
dependency graph, which orders parent and nested resources by their references as CloudFormation orders a
parent's resources around its nested stacks (a nested parameter can be a parent's table while a parent's
function reads a nested output; two stacks would have to be created in turns, the parent split around them),
and everything the local cloud does with a template (functions, triggers, routes, the console, the state
folder) works on the nested resources unchanged. The cost: the physical names moto makes carry the merged
logical id (`localcloud-OperationsQueue-…`) rather than a nested stack's name.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.template import (
    ACCOUNT_ID,
    SSM_PARAMETER_TYPE_PREFIX,
    STACK_NAME,
    TemplateError,
    load_template,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from localcloud.translate import Translation

__all__ = ["APPLICATION_TYPE", "Application", "merge_applications"]

APPLICATION_TYPE = "AWS::CloudFormation::Stack"
REMOTE_PREFIXES = ("http://", "https://", "s3://")
PSEUDO_PARAMETERS = {"AWS::StackName", "AWS::StackId"}  # the others are the same in a nested stack
_SUB_TOKEN = re.compile(r"\$\{([^}]+)\}")


@dataclass
class Application:
    """A nested application as merged: its template, its resources' merged logical ids and its outputs (as
    expressions in the merged template)."""

    logical_id: str
    template: Path
    resources: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def stack_name(self) -> str:
        return f"{STACK_NAME}-{self.logical_id}"

    def stack_id(self, region: str) -> str:
        return f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{self.stack_name}/local"


def merge_applications(
    translation: Translation,
    base: Path,
    parameters: dict[str, Any],
    translate: Callable[[dict[str, Any], dict[str, Any], Path], Translation],
    parents: tuple[Path, ...] = (),
) -> None:
    """Merge every nested application with a local template into `translation` (in place). `base` is the
    folder of the template `translation` came from, `parameters` its parameter values (for the region)."""
    cfn = translation.cfn
    resources = cfn.get("Resources", {})
    found = [logical_id for logical_id, res in resources.items() if res.get("Type") == APPLICATION_TYPE]
    if not found:
        return
    region = str(parameters.get("AWS::Region", ""))
    applications: dict[str, Application] = {}
    for logical_id in found:
        application = resources.pop(logical_id)
        merged = _merged(logical_id, application, base, region, translate, parents)
        for section in ("Resources", "Conditions", "Mappings"):
            taken = set(cfn.get(section, {})) | (set(found) if section == "Resources" else set())
            clash = sorted(taken & set(merged.cfn.get(section, {})))
            if clash:
                raise TemplateError(
                    f"{logical_id}: its {section.lower()} {clash} clash with the parent's once prefixed with "
                    f"{logical_id}; rename one"
                )
            if merged.cfn.get(section):
                cfn.setdefault(section, {}).update(merged.cfn[section])
        translation.code_folders.update(merged.code_folders)
        translation.applications.update(merged.applications)
        applications[logical_id] = merged.application
    translation.applications.update(applications)
    # A parent's reference to an output may lead to another application's output (passed as a parameter):
    # resolve until none is left; each round removes one level.
    for _ in range(len(applications) + 1):
        before = copy.deepcopy(cfn)
        for section in ("Resources", "Outputs", "Conditions"):
            if section in cfn:
                cfn[section] = _OutputsOf(applications, region).rename(cfn[section], section == "Resources")
        if cfn == before:
            return
    raise TemplateError(f"the outputs of {sorted(applications)} refer to each other in a cycle")


@dataclass
class _Merged:
    cfn: dict[str, Any]
    code_folders: dict[str, Path]
    applications: dict[str, Application]
    application: Application


def _merged(
    logical_id: str,
    application: dict[str, Any],
    base: Path,
    region: str,
    translate: Callable[[dict[str, Any], dict[str, Any], Path], Translation],
    parents: tuple[Path, ...],
) -> _Merged:
    """The nested template of one application, translated and renamed into the parent's namespace."""
    properties = application.get("Properties", {})
    url = properties.get("TemplateURL")
    if not isinstance(url, str) or url.startswith(REMOTE_PREFIXES):
        raise TemplateError(
            f"{logical_id}: a nested application runs locally only from a template file beside the parent "
            f"(Location: operations.yaml); not {url!r}"
        )
    path = (base / url).resolve()
    if path in parents:
        raise TemplateError(f"{logical_id}: {path} nests itself")
    template = load_template(path)
    merged = Application(logical_id, path)
    given = properties.get("Parameters") or {}
    specs = template.get("Parameters", {})
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise TemplateError(f"{logical_id}: {path.name} has no parameters {unknown}")
    values, substitutes = _parameters(logical_id, specs, given, region, merged)
    translation = translate(template, values, path.parent)
    merge_applications(translation, path.parent, values, translate, (*parents, path))
    cfn = translation.cfn
    renamer = _Renamer(
        {name: logical_id + name for name in cfn.get("Resources", {})},
        {name: logical_id + name for name in cfn.get("Conditions", {})},
        {name: logical_id + name for name in cfn.get("Mappings", {})},
        substitutes,
    )
    renamed: dict[str, Any] = {
        "Resources": {
            renamer.resources[name]: renamer.resource(resource) for name, resource in cfn["Resources"].items()
        },
        "Conditions": {
            renamer.conditions[name]: renamer.rename(value)
            for name, value in cfn.get("Conditions", {}).items()
        },
        "Mappings": {renamer.mappings[name]: value for name, value in cfn.get("Mappings", {}).items()},
    }
    _apply_application_condition(application, renamed)
    merged.resources = list(renamed["Resources"])
    merged.outputs = {
        name: renamer.rename(output.get("Value")) for name, output in cfn.get("Outputs", {}).items()
    }
    # A nested application's own nested applications keep their entries, renamed into this namespace.
    nested = {}
    for inner in translation.applications.values():
        inner.logical_id = logical_id + inner.logical_id
        inner.resources = [logical_id + name for name in inner.resources]
        inner.outputs = {name: renamer.rename(value) for name, value in inner.outputs.items()}
        nested[inner.logical_id] = inner
    return _Merged(renamed, translation.code_folders, nested, merged)


def _parameters(
    logical_id: str, specs: dict[str, Any], given: dict[str, Any], region: str, application: Application
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values to translate the nested template with, what replaces each `Ref` to a parameter in it)."""
    values: dict[str, Any] = {}
    substitutes: dict[str, Any] = {}
    for name, spec in specs.items():
        kind = str(spec.get("Type", "String"))
        listed = kind == "CommaDelimitedList" or kind.startswith("List<")
        if name in given:
            value = copy.deepcopy(given[name])
            literal = not isinstance(value, dict | list)
            if listed and literal:
                value = _listed(value)
            elif listed:
                value = {"Fn::Split": [",", value]}
            substitutes[name] = value
            # The SAM translator resolves a few properties itself: a literal it can use; else a placeholder.
            values[name] = value if literal or (listed and isinstance(value, list)) else f"localcloud-{name}"
        elif kind.startswith(SSM_PARAMETER_TYPE_PREFIX):
            values[name] = substitutes[name] = (
                f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:localcloud-placeholder-{name}:1"
            )
        elif "Default" in spec:
            default = spec["Default"]
            if listed and isinstance(default, str):
                default = _listed(default)
            values[name] = substitutes[name] = default
        else:
            raise TemplateError(
                f"{logical_id}: parameter {name} of {application.template.name} has no Default, and "
                f"{logical_id}'s Parameters do not give it"
            )
    values.update(
        {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": application.stack_name,
            "AWS::StackId": application.stack_id(region),
            "AWS::NoValue": None,
        }
    )
    substitutes["AWS::StackName"] = application.stack_name
    substitutes["AWS::StackId"] = application.stack_id(region)
    return values, substitutes


def _apply_application_condition(application: dict[str, Any], renamed: dict[str, Any]) -> None:
    """The application's own Condition and DependsOn hold for every resource merged from it."""
    condition = application.get("Condition")
    depends_on = application.get("DependsOn")
    extra = _names(depends_on)
    for resource in renamed["Resources"].values():
        if condition is not None:
            own = resource.get("Condition")
            if own is None:
                resource["Condition"] = condition
            else:
                combined = f"{own}And{condition}"
                renamed["Conditions"][combined] = {"Fn::And": [{"Condition": own}, {"Condition": condition}]}
                resource["Condition"] = combined
        if extra:
            resource["DependsOn"] = _names(resource.get("DependsOn")) + extra


class _Renamer:
    """Renames references within one nested template: resources, conditions and mappings to their merged
    names, parameters (and the nested stack's pseudo parameters) to what replaces them."""

    def __init__(
        self,
        resources: dict[str, str],
        conditions: dict[str, str],
        mappings: dict[str, str],
        substitutes: dict[str, Any],
    ) -> None:
        self.resources = resources
        self.conditions = conditions
        self.mappings = mappings
        self.substitutes = substitutes

    def resource(self, resource: dict[str, Any]) -> dict[str, Any]:
        renamed: dict[str, Any] = {}
        for key, value in resource.items():
            if key == "Condition" and isinstance(value, str):
                renamed[key] = self.conditions.get(value, value)
            elif key == "DependsOn":
                renamed[key] = [self.resources.get(name, name) for name in _names(value)]
            elif key == "Type":
                renamed[key] = value
            else:
                renamed[key] = self.rename(value)
        return renamed

    def rename(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.rename(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            renamed = self._intrinsic(key, argument)
            if renamed is not _NOT_INTRINSIC:
                return renamed
        return {key: self.rename(item) for key, item in value.items()}

    def _intrinsic(self, key: str, argument: Any) -> Any:
        if key == "Ref" and isinstance(argument, str):
            return self.ref(argument)
        if key == "Fn::GetAtt":
            target, attribute = _get_att_parts(argument)
            return self.get_att(target, self.rename(attribute))
        if key == "Fn::Sub":
            return self._sub(argument)
        named_first = isinstance(argument, list) and bool(argument) and isinstance(argument[0], str)
        if key == "Fn::If" and named_first:
            return {key: [self.conditions.get(argument[0], argument[0]), *self.rename(argument[1:])]}
        if key == "Condition" and isinstance(argument, str):
            return {key: self.conditions.get(argument, argument)}
        if key == "Fn::FindInMap" and named_first:
            return {key: [self.mappings.get(argument[0], argument[0]), *self.rename(argument[1:])]}
        return _NOT_INTRINSIC

    def ref(self, name: str) -> Any:
        if name in self.substitutes:
            return copy.deepcopy(self.substitutes[name])
        return {"Ref": self.resources.get(name, name)}

    def get_att(self, target: str, attribute: Any) -> Any:
        return {"Fn::GetAtt": [self.resources.get(target, target), attribute]}

    def _sub(self, argument: Any) -> Any:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], dict(argument[1]))
        variables = {name: self.rename(item) for name, item in variables.items()}
        added: dict[str, Any] = {}

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!") or token in variables:
                return match.group(0)
            name, dot, attribute = token.partition(".")
            replacement = self.sub_token(name, attribute) if dot else self.sub_token(name, None)
            if isinstance(replacement, str):
                return "${" + replacement + "}"
            variable = "LocalCloud" + re.sub(r"[^A-Za-z0-9]", "", token)
            added[variable] = replacement["value"]
            return "${" + variable + "}"

        text = _SUB_TOKEN.sub(replace, text)
        variables.update(added)
        return {"Fn::Sub": [text, variables] if variables else text}

    def sub_token(self, name: str, attribute: str | None) -> str | dict[str, Any]:
        """A `${name}` or `${name.attribute}` renamed (a str), or a value to pass as a variable."""
        if attribute is None and name in self.substitutes:
            return {"value": copy.deepcopy(self.substitutes[name])}
        renamed = self.resources.get(name, name)
        return renamed if attribute is None else f"{renamed}.{attribute}"


class _OutputsOf(_Renamer):
    """Renames the parent's references to its nested applications: `GetAtt App.Outputs.X` to the output's
    value, `Ref App` to the nested stack's id, `DependsOn: App` to the application's resources."""

    def __init__(self, applications: dict[str, Application], region: str) -> None:
        super().__init__({}, {}, {}, {})
        self.applications = applications
        self.region = region

    def rename(self, value: Any, resources: bool = False) -> Any:
        if resources and isinstance(value, dict):
            return {name: self.resource(resource) for name, resource in value.items()}
        return super().rename(value)

    def resource(self, resource: dict[str, Any]) -> dict[str, Any]:
        renamed = super().resource(resource)
        if "DependsOn" in renamed:
            renamed["DependsOn"] = [
                name for dependency in renamed["DependsOn"] for name in self._all(dependency)
            ]
        return renamed

    def _all(self, dependency: str) -> list[str]:
        """A dependency on an application is one on each of its resources."""
        application = self.applications.get(dependency)
        return application.resources if application is not None else [dependency]

    def ref(self, name: str) -> Any:
        if name in self.applications:
            return self.applications[name].stack_id(self.region)
        return {"Ref": name}

    def get_att(self, target: str, attribute: Any) -> Any:
        if target in self.applications:
            return copy.deepcopy(self._output(target, attribute))
        return {"Fn::GetAtt": [target, attribute]}

    def sub_token(self, name: str, attribute: str | None) -> str | dict[str, Any]:
        if name not in self.applications:
            return name if attribute is None else f"{name}.{attribute}"
        if attribute is None:
            return {"value": self.applications[name].stack_id(self.region)}
        return {"value": copy.deepcopy(self._output(name, attribute))}

    def _output(self, application: str, attribute: Any) -> Any:
        name = str(attribute).removeprefix("Outputs.")
        outputs = self.applications[application].outputs
        if not str(attribute).startswith("Outputs.") or name not in outputs:
            raise TemplateError(
                f"GetAtt {application}.{attribute}: a nested application's attributes are its outputs "
                f"(Outputs.Name), and {application} has {sorted(outputs)}"
            )
        return outputs[name]


def _names(value: Any) -> list[str]:
    """A DependsOn as a list (it may be one name)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _listed(text: Any) -> list[str]:
    """A CommaDelimitedList parameter's value from its text."""
    return [item.strip() for item in str(text).split(",")]


def _get_att_parts(argument: Any) -> tuple[str, Any]:
    if isinstance(argument, str):
        target, _, attribute = argument.partition(".")
        return target, attribute
    return str(argument[0]), argument[1]


class _NotIntrinsic:
    pass


_NOT_INTRINSIC = _NotIntrinsic()
