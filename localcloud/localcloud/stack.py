"""The stack: the data resources created in moto's CloudFormation, and every intrinsic resolved against them.

Functions, layers, APIs and the rest that moto does not get resolve to what they would be on AWS: a function's
Ref is its name and its Arn an ARN in the local region and account; anything else gets a stable placeholder.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from moto.cloudformation.models import cloudformation_backends

from localcloud.intrinsics import IntrinsicError, Resolver
from localcloud.template import ACCOUNT_ID, STACK_NAME, TemplateError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef

    from localcloud.translate import Translation

__all__ = ["Stack"]

STACK_CREATE_TIMEOUT_SECONDS = 120.0


class Stack:
    """Physical ids and attributes by logical id; `resolver` resolves any part of the translated template."""

    def __init__(self, translation: Translation, parameters: dict[str, Any], region: str) -> None:
        self.translation = translation
        self.region = region
        self.physical_ids: dict[str, str] = {}
        # Resources the local cloud makes itself rather than moto's CloudFormation (replica keys):
        # {logical id: {"Ref": value, attribute: value}}.
        self.made: dict[str, dict[str, str]] = {}
        self.resolver = Resolver(
            parameters,
            translation.cfn.get("Conditions", {}),
            self.ref,
            self.get_att,
            translation.cfn.get("Mappings"),
        )

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The translated resources whose Condition (if any) holds."""
        return {
            logical_id: resource
            for logical_id, resource in self.translation.resources.items()
            if "Condition" not in resource or self.resolver.condition(resource["Condition"])
        }

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") == kind}

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties, every intrinsic resolved."""
        return self.resolver.resolve(self.resources[logical_id].get("Properties", {}))

    # ----- in moto -----

    def create(self, cloudformation: CloudFormationClient, template: dict[str, Any]) -> None:
        """Create the data resources (`template`) in moto and read their physical ids back."""
        try:
            cloudformation.create_stack(
                StackName=STACK_NAME,
                TemplateBody=json.dumps(template),
                Parameters=self._moto_parameters(template),
            )
        except cloudformation.exceptions.AlreadyExistsException as exc:
            raise TemplateError(f"a stack named {STACK_NAME} already exists in this moto server") from exc
        self._wait_for(cloudformation, "CREATE_COMPLETE")
        self.read_physical_ids(cloudformation)

    def update(self, cloudformation: CloudFormationClient, template: dict[str, Any]) -> None:
        """Bring a resumed stack to the template's data resources (a template changed since the last run)."""
        try:
            cloudformation.update_stack(
                StackName=STACK_NAME,
                TemplateBody=json.dumps(template),
                Parameters=self._moto_parameters(template),
            )
        except cloudformation.exceptions.ClientError as exc:
            if "No updates" not in str(exc):
                raise TemplateError(f"moto could not update the resumed stack: {exc}") from exc
        else:
            self._wait_for(cloudformation, "UPDATE_COMPLETE")
        self.read_physical_ids(cloudformation)

    def _moto_parameters(self, template: dict[str, Any]) -> list[ParameterTypeDef]:
        """The parameter values the local cloud resolves with (overrides included), for moto's stack: its
        conditions must choose the resources the functions are told about."""
        values: list[ParameterTypeDef] = []
        for name in template.get("Parameters", {}):
            value = self.resolver.parameters.get(name)
            if value is None:
                continue
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            values.append({"ParameterKey": name, "ParameterValue": text})
        return values

    def read_physical_ids(self, cloudformation: CloudFormationClient) -> None:
        # The stack's id as moto made it: names built from AWS::StackId (`!Select [2, !Split ["/", ...]]`)
        # must be the same in what moto created and in what the functions are told.
        (stack,) = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"]
        self.resolver.parameters["AWS::StackId"] = stack["StackId"]
        for resource in cloudformation.describe_stack_resources(StackName=STACK_NAME)["StackResources"]:
            if "LogicalResourceId" not in resource:
                continue  # moto lists a resource whose Condition is false without its names
            if "PhysicalResourceId" in resource:  # moto gives none for a few types (an AWS::Events::Rule)
                self.physical_ids[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
            else:
                self.physical_ids.pop(resource["LogicalResourceId"], None)

    @staticmethod
    def _wait_for(cloudformation: CloudFormationClient, status: str) -> None:
        deadline = time.monotonic() + STACK_CREATE_TIMEOUT_SECONDS
        while True:
            stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
            if stack["StackStatus"] == status:
                return
            if stack["StackStatus"].endswith(("FAILED", "ROLLBACK_COMPLETE")) or time.monotonic() > deadline:
                reason = stack.get("StackStatusReason", stack["StackStatus"])
                raise TemplateError(f"moto could not create the data resources: {reason}")
            time.sleep(0.05)

    def outputs(self) -> dict[str, Any]:
        """The template's outputs whose Condition holds, resolved as the stack's are (a value that cannot be
        resolved is left out)."""
        values: dict[str, Any] = {}
        for name, output in self.translation.cfn.get("Outputs", {}).items():
            if "Condition" in output and not self.resolver.condition(output["Condition"]):
                continue
            try:
                values[name] = self.resolver.resolve(output.get("Value"))
            except (TemplateError, IntrinsicError):
                continue
        return values

    # ----- references -----

    def function_name(self, logical_id: str) -> str:
        name = self.translation.resources[logical_id].get("Properties", {}).get("FunctionName")
        return str(self.resolver.resolve(name)) if name is not None else logical_id

    def function_arn(self, logical_id: str) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name(logical_id)}"

    def user_pool_id(self, logical_id: str) -> str:
        """A Cognito user pool's id (moto cannot create pools from a template: the local cloud is the pool's
        token issuer)."""
        return f"{self.region}_{logical_id}"

    def ref(self, logical_id: str) -> Any:
        if logical_id in self.made:
            return self.made[logical_id]["Ref"]
        if logical_id in self.physical_ids:
            return self.physical_ids[logical_id]
        if logical_id in self.translation.applications:  # a nested application, merged: its stack's id
            return self.translation.applications[logical_id].stack_id(self.region)
        resource = self.translation.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Ref to {logical_id}, which is neither a parameter nor a resource")
        if resource.get("Type") == "AWS::Lambda::Function":
            return self.function_name(logical_id)
        if resource.get("Type") == "AWS::Cognito::UserPool":
            return self.user_pool_id(logical_id)
        # Resources that exist only on AWS (APIs, roles, layers): a stable placeholder is enough locally.
        return f"local-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if attribute in self.made.get(logical_id, {}):
            return self.made[logical_id][attribute]
        if logical_id in self.physical_ids:
            return self._moto_attribute(logical_id, attribute)
        application = self.translation.applications.get(logical_id)
        if application is not None:  # a nested application's output (Outputs.Name), resolved in the merge
            name = attribute.removeprefix("Outputs.")
            if not attribute.startswith("Outputs.") or name not in application.outputs:
                raise TemplateError(
                    f"{logical_id} has no output {attribute!r}: {sorted(application.outputs)}"
                )
            return self.resolver.resolve(application.outputs[name])
        resource = self.translation.resources.get(logical_id, {})
        if resource.get("Type") == "AWS::Lambda::Function" and attribute == "Arn":
            return self.function_arn(logical_id)
        if resource.get("Type") == "AWS::Cognito::UserPool":
            pool = self.user_pool_id(logical_id)
            provider = f"cognito-idp.{self.region}.amazonaws.com/{pool}"
            arn = f"arn:aws:cognito-idp:{self.region}:{ACCOUNT_ID}:userpool/{pool}"
            return {"Arn": arn, "ProviderURL": f"https://{provider}", "ProviderName": provider}.get(
                attribute, arn
            )
        return f"arn:aws:localcloud:{self.region}:{ACCOUNT_ID}:{logical_id}/{attribute}"

    def _moto_attribute(self, logical_id: str, attribute: str) -> Any:
        """An attribute as moto's own resource model reports it (moto runs in this process)."""
        backend = cloudformation_backends[ACCOUNT_ID][self.region]
        stack = next(
            s for s in backend.stacks.values() if s.name == STACK_NAME and s.status.endswith("COMPLETE")
        )
        model: Any = stack.resource_map[logical_id]
        try:
            if hasattr(model, "get_cfn_attribute"):
                return model.get_cfn_attribute(attribute)
            # A few moto models (SSM parameters) have no attribute lookup; their fields carry the names.
            return getattr(model, re.sub(r"(?<!^)(?=[A-Z])", "_", attribute).lower())
        except Exception as exc:
            raise TemplateError(f"moto cannot give {logical_id}.{attribute}: {exc}") from exc
