"""Creating the data resources in moto's CloudFormation and reading back their physical names and ARNs."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from moto.cloudformation.models import cloudformation_backends

from localcloud.template import ACCOUNT_ID, REGION, TemplateError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

__all__ = ["Stack"]

STACK_NAME = "localcloud"


class Stack:
    """The data resources as created by moto: physical ids and attributes by logical id."""

    def __init__(self, cloudformation: CloudFormationClient, template: dict[str, Any]) -> None:
        self._cloudformation = cloudformation
        self._template = template
        self.physical_ids: dict[str, str] = {}

    def create(self) -> None:
        client = self._cloudformation
        try:
            client.create_stack(StackName=STACK_NAME, TemplateBody=json.dumps(self._template))
        except client.exceptions.AlreadyExistsException as exc:
            raise TemplateError(f"a stack named {STACK_NAME} already exists in this moto server") from exc
        deadline = time.monotonic() + 30
        while True:
            stack = client.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
            if stack["StackStatus"] == "CREATE_COMPLETE":
                break
            if stack["StackStatus"].endswith(("FAILED", "ROLLBACK_COMPLETE")) or time.monotonic() > deadline:
                reason = stack.get("StackStatusReason", stack["StackStatus"])
                raise TemplateError(f"moto could not create the data resources: {reason}")
            time.sleep(0.05)
        for resource in client.describe_stack_resources(StackName=STACK_NAME)["StackResources"]:
            self.physical_ids[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]

    def ref(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """An attribute as moto's own resource model reports it (moto runs in this process)."""
        backend = cloudformation_backends[ACCOUNT_ID][REGION]
        stack = next(
            s for s in backend.stacks.values() if s.name == STACK_NAME and s.status.endswith("COMPLETE")
        )
        model = stack.resource_map[logical_id]
        try:
            if hasattr(model, "get_cfn_attribute"):
                return model.get_cfn_attribute(attribute)
            # A few moto models (SSM parameters) have no attribute lookup; their fields carry the names.
            return getattr(model, re.sub(r"(?<!^)(?=[A-Z])", "_", attribute).lower())
        except Exception as exc:
            raise TemplateError(f"moto cannot give {logical_id}.{attribute}: {exc}") from exc
