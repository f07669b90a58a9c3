"""From the SAM template to plain CloudFormation, and from that to the template moto creates.

The SAM translator runs offline (a managed-policy stub, local code folders replaced by fake S3 URIs the way
`sam validate` does, with a map back to the folders). Its output is what the local cloud runs: functions,
layers, event source mappings, APIs, rules and subscriptions exactly as CloudFormation would get them. moto
gets only the data resources: Lambda, IAM and API Gateway resources and event source mappings are left out
(moto would try to run functions in Docker and its own mappings would drain the stream records), and the
local cloud serves HTTP and triggers itself.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from localcloud.nested import Application, merge_applications
from localcloud.replication import GLOBAL_TABLE, REPLICA_KEY, as_regional_table
from localcloud.template import SSM_PARAMETER_TYPE_PREFIX, TemplateError

__all__ = ["CODE_BUCKET", "Translation", "data_resources_template", "translate"]

CODE_BUCKET = "localcloud-code"

LEFT_OUT_PREFIXES = (
    "AWS::Lambda::",
    "AWS::IAM::",
    "AWS::ApiGateway::",
    "AWS::ApiGatewayV2::",
    "AWS::Serverless::",
    "AWS::CodeDeploy::",
    "AWS::Scheduler::",  # the local cloud fires schedules itself
    "AWS::Cognito::",  # moto cannot create user pools from a template; the local cloud issues their tokens
    "AWS::KinesisFirehose::",  # moto's CloudFormation cannot create them; firehose.py delivers
    # Query catalogues (Glue databases and tables, Athena workgroups and named queries): moto's CloudFormation
    # cannot create them, and nothing runs queries locally (a project queries its archive with its own tools).
    "AWS::Glue::",
    "AWS::Athena::",
    # Alarms and subscriptions: moto's CloudFormation cannot create them (no physical id). The local cloud
    # subscribes its own delivery queues for the subscriptions of functions (async_sources.py).
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Subscription",
)

# Properties that change nothing locally (deletion protection, encryption at rest, backups). moto 5.2.5
# accepts them (checked), but other moto versions have failed stacks on some of them, and none has any
# effect on what the functions see; so the copy sent to moto goes without them.
UNSUPPORTED_PROPERTIES = {
    "AWS::DynamoDB::Table": [
        "DeletionProtectionEnabled",
        "PointInTimeRecoverySpecification",
        "SSESpecification",
        "ContributorInsightsSpecification",
        "ResourcePolicy",
        "WarmThroughput",
    ],
    "AWS::Kinesis::Stream": ["StreamEncryption", "StreamModeDetails"],
    "AWS::SQS::Queue": ["KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled"],
}


class _ManagedPolicies(dict):
    """Managed policy names to ARNs without asking IAM: every name maps to its AWS-managed ARN."""

    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def __contains__(self, name: object) -> bool:
        return True


class _ManagedPolicyLoader:
    def load(self) -> dict[str, str]:
        return _ManagedPolicies()


@dataclass
class Translation:
    """The translated template and where each function's and layer's code is on this machine."""

    cfn: dict[str, Any]
    code_folders: dict[str, Path]  # fake S3 key -> local folder
    applications: dict[str, Application] = field(default_factory=dict)  # nested ones, merged (nested.py)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.cfn.get("Resources", {})

    def code_folder(self, code: dict[str, Any], owner: str) -> Path:
        """The folder behind a translated `Code` or `Content` ({S3Bucket, S3Key})."""
        key = code.get("S3Key") if code.get("S3Bucket") == CODE_BUCKET else None
        if not isinstance(key, str) or key not in self.code_folders:
            raise TemplateError(f"{owner}: its code is not a local folder ({code!r}); it cannot run locally")
        return self.code_folders[key]


def translate(template: dict[str, Any], parameters: dict[str, Any], base: Path) -> Translation:
    """The SAM template as plain CloudFormation, translated offline; `base` is the template's folder. Nested
    applications with a local template are translated too and merged in (`nested.py`)."""
    translation = _translate_one(template, parameters, base)
    merge_applications(translation, base, parameters, _translate_one)
    return translation


def _translate_one(template: dict[str, Any], parameters: dict[str, Any], base: Path) -> Translation:
    sam = copy.deepcopy(template)
    folders: dict[str, Path] = {}

    def fake_s3_uri(path: str) -> str:
        if path.startswith("s3://"):
            return path
        folder = (base / path).resolve()
        key = str(folder).strip("/") or "."  # the folder itself: a nested template's folders are others
        folders[key] = folder
        return f"s3://{CODE_BUCKET}/{key}"

    function_globals = sam.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = fake_s3_uri(function_globals["CodeUri"])
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = fake_s3_uri(properties[key])
        if isinstance(properties.get("DefinitionUri"), str):
            raise TemplateError(
                "DefinitionUri pointing at a local file is not supported locally: inline it as DefinitionBody"
            )
    # transform() would ask boto3 for a region; a session with the local one keeps the translation offline.
    session = boto3.session.Session(region_name=parameters["AWS::Region"])
    translator = Translator(None, Parser(), boto_session=session)
    policies = _ManagedPolicyLoader()
    try:
        cfn = translator.translate(
            sam, parameter_values=dict(parameters), get_managed_policy_map=policies.load
        )
    except Exception as exc:
        causes = getattr(exc, "causes", [])
        details = "; ".join(str(cause) for cause in causes) or str(exc)
        raise TemplateError(f"the SAM translator rejected the template: {details}") from exc
    return Translation(cfn, folders)


def data_resources_template(
    cfn: dict[str, Any], parameters: dict[str, Any], made: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """The copy for moto: data resources only, references to left-out resources replaced by placeholders, and
    to resources the local cloud `made` itself (replica keys: {logical id: {"Ref": ..., attribute: ...}}) by
    their values. Global tables become tables (replication.py)."""
    resources = cfn.get("Resources", {})
    made = made or {}
    left_out = {
        name
        for name, res in resources.items()
        if res.get("Type", "").startswith(LEFT_OUT_PREFIXES) or res.get("Type") == REPLICA_KEY
    }
    kept = {}
    for name, resource in resources.items():
        if name in left_out:
            continue
        resource = copy.deepcopy(resource)
        if resource.get("Type") == GLOBAL_TABLE:
            resource = as_regional_table(resource)
        for prop in UNSUPPORTED_PROPERTIES.get(resource.get("Type", ""), []):
            resource.get("Properties", {}).pop(prop, None)
        depends_on = resource.get("DependsOn")
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        if depends_on is not None:
            resource["DependsOn"] = [dep for dep in depends_on if dep not in left_out]
            if not resource["DependsOn"]:
                del resource["DependsOn"]
        kept[name] = _without_references(resource, left_out, made)
    result: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}
    # SSM-typed parameters become plain strings with their placeholder value: moto would look them up.
    result_parameters = {}
    for name, spec in cfn.get("Parameters", {}).items():
        spec = copy.deepcopy(spec)
        if spec.get("Type", "").startswith(SSM_PARAMETER_TYPE_PREFIX):
            spec = {"Type": "String", "Default": parameters[name]}
        result_parameters[name] = spec
    if result_parameters:
        result["Parameters"] = result_parameters
    for section in ("Conditions", "Mappings"):
        if section in cfn:
            result[section] = copy.deepcopy(cfn[section])
    # Outputs are left out: they mostly point at APIs and functions, which moto does not get.
    return result


def _without_references(value: Any, left_out: set[str], made: dict[str, dict[str, str]]) -> Any:
    """Replace Ref/GetAtt/${...} pointing at left-out resources with their value when the local cloud made
    them, else with a placeholder string."""
    if isinstance(value, dict):
        if value.keys() == {"Ref"} and value["Ref"] in left_out:
            return made.get(value["Ref"], {}).get("Ref", f"localcloud-{value['Ref']}")
        if value.keys() == {"Fn::GetAtt"}:
            target, _, attribute = (
                value["Fn::GetAtt"].partition(".")
                if isinstance(value["Fn::GetAtt"], str)
                else (value["Fn::GetAtt"][0], ".", value["Fn::GetAtt"][1])
            )
            if target in left_out:
                return made.get(target, {}).get(attribute, f"arn:aws:localcloud:::{target}")
        return {key: _without_references(item, left_out, made) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_references(item, left_out, made) for item in value]
    if isinstance(value, str) and "${" in value:

        def replaced(match: re.Match[str]) -> str:
            name, attribute = match.group(1), (match.group(2) or ".Ref")[1:]
            if name not in left_out:
                return match.group(0)
            return made.get(name, {}).get(attribute, f"localcloud-{name}")

        return re.sub(r"\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}", replaced, value)
    return value
