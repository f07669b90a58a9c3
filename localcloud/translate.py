"""From the SAM template to the CloudFormation template that moto creates: only the data resources.

The SAM translator runs offline (a managed-policy stub, local code folders replaced by fake S3 URIs the way
`sam validate` does). Then Lambda, IAM and API Gateway resources and event source mappings are left out:
moto would try to run functions in Docker and its own mappings would drain the stream records, and the
local cloud serves HTTP and triggers itself.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from localcloud.template import REGION, SSM_PARAMETER_TYPE_PREFIX, TemplateError

__all__ = ["data_resources_template", "translate"]

LEFT_OUT_PREFIXES = (
    "AWS::Lambda::",
    "AWS::IAM::",
    "AWS::ApiGateway::",
    "AWS::ApiGatewayV2::",
    "AWS::Serverless::",
    "AWS::CodeDeploy::",
    # Alarms and the alarm topic's subscription: moto's CloudFormation cannot create them (no physical id).
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


def translate(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The SAM template as plain CloudFormation, translated offline."""
    sam = copy.deepcopy(template)
    function_globals = sam.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = _fake_s3_uri(function_globals["CodeUri"])
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = _fake_s3_uri(properties[key])
    # transform() would ask boto3 for a region; a session with the local one keeps the translation offline.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    policies = _ManagedPolicyLoader()
    try:
        return translator.translate(
            sam, parameter_values=dict(parameters), get_managed_policy_map=policies.load
        )
    except Exception as exc:
        causes = getattr(exc, "causes", [])
        details = "; ".join(str(cause) for cause in causes) or str(exc)
        raise TemplateError(f"the SAM translator rejected the template: {details}") from exc


def _fake_s3_uri(path: str) -> str:
    return path if path.startswith("s3://") else f"s3://localcloud/{path.strip('/')}"


def data_resources_template(cfn: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The copy for moto: data resources only, references to left-out resources replaced by placeholders."""
    resources = cfn.get("Resources", {})
    left_out = {name for name, res in resources.items() if res.get("Type", "").startswith(LEFT_OUT_PREFIXES)}
    kept = {}
    for name, resource in resources.items():
        if name in left_out:
            continue
        resource = copy.deepcopy(resource)
        for prop in UNSUPPORTED_PROPERTIES.get(resource.get("Type", ""), []):
            resource.get("Properties", {}).pop(prop, None)
        depends_on = resource.get("DependsOn")
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        if depends_on is not None:
            resource["DependsOn"] = [dep for dep in depends_on if dep not in left_out]
            if not resource["DependsOn"]:
                del resource["DependsOn"]
        kept[name] = _without_references(resource, left_out)
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


def _without_references(value: Any, left_out: set[str]) -> Any:
    """Replace Ref/GetAtt/${...} pointing at left-out resources with a placeholder string."""
    if isinstance(value, dict):
        if value.keys() == {"Ref"} and value["Ref"] in left_out:
            return f"localcloud-{value['Ref']}"
        if value.keys() == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            target = target.split(".")[0] if isinstance(target, str) else target[0]
            if target in left_out:
                return f"arn:aws:localcloud:::{target}"
        return {key: _without_references(item, left_out) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_references(item, left_out) for item in value]
    if isinstance(value, str) and "${" in value:
        return re.sub(
            r"\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}",
            lambda m: f"localcloud-{m.group(1)}" if m.group(1) in left_out else m.group(0),
            value,
        )
    return value
