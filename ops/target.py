"""What the commands act on: the running local cloud (the default) or a deployed stack, seen the same way:
boto3 clients, the physical id of every resource by logical id (from the CloudFormation stack's resources,
which the local cloud creates in moto too), and the stack's shape (from its processed template on AWS, the
translated template.yaml locally)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.template import TEMPLATE, StackShape, shape_of_template, target_of

LOCAL_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_GATEWAY = "http://127.0.0.1:3000"
LOCAL_STACK = "localcloud"  # the stack the local cloud creates its data resources in (moto)
LOCAL_REGION = "eu-west-1"
LOCAL_CREDENTIALS = {"aws_access_key_id": "localcloud", "aws_secret_access_key": "localcloud"}


class TargetError(Exception):
    """The target cannot be reached or is not what was expected (exit status 2)."""


@dataclass
class Target:
    """A stack to operate on. `local` tells the two apart where they really differ (logs, invocations)."""

    stack_name: str
    shape: StackShape
    physical_ids: dict[str, str]
    region: str
    local: bool
    session: Any
    endpoint_url: str | None = None
    gateway_url: str | None = None
    parameters: dict[str, str] = field(
        default_factory=dict
    )  # the stack's parameter values (locally: as the local cloud resolved them)
    outputs: dict[str, str] = field(default_factory=dict)  # the stack's outputs (locally: as it resolves)
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            config = Config(retries={"max_attempts": 5, "mode": "standard"})
            if self.local:
                config = config.merge(Config(account_id_endpoint_mode="disabled"))
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, region_name=self.region, config=config
            )
        return self._clients[service]

    def physical(self, logical_id: str) -> str:
        try:
            return self.physical_ids[logical_id]
        except KeyError:
            raise TargetError(f"{logical_id} is not a resource of stack {self.stack_name}") from None

    def table(self, logical_id: str) -> str:
        """A table's name by the logical id a stack in one region gives it (`OrdersEventLog`), whatever the
        stack's replication: the stack's output `<id>Table` names it in every mode (the primary's global
        table `OrdersEventLogReplicas`; in the standby, which has no such resource, the replica's derived
        name), else the stack's own resource of that id (a stack, or the local cloud, without outputs)."""
        named = self.outputs.get(f"{logical_id}Table")
        if named:
            return named
        if logical_id in self.physical_ids:
            return self.physical_ids[logical_id]
        raise TargetError(
            f"{logical_id} is neither a resource of stack {self.stack_name} nor named by its output "
            f"{logical_id}Table (a replicated stack names its tables only there)"
        )

    def function_name(self, logical_id: str) -> str:
        """A function's name: its physical id on AWS; locally the name the template gives it."""
        if logical_id in self.physical_ids:
            return self.physical_ids[logical_id]
        name = self.shape.resources[logical_id].get("Properties", {}).get("FunctionName")
        if isinstance(name, dict) and "Fn::Sub" in name and isinstance(name["Fn::Sub"], str):
            return str(name["Fn::Sub"]).replace("${AWS::StackName}", self.stack_name)
        return str(name) if isinstance(name, str) else logical_id

    def log_group(self, function: str) -> str:
        """The log group a function writes: the one its LoggingConfig names (template.yaml gives each function
        one named after the stack), else Lambda's default for its name."""
        logging = self.shape.resources[function].get("Properties", {}).get("LoggingConfig") or {}
        group = logging.get("LogGroup")
        if isinstance(group, str):
            return group
        if target_of(group) in self.physical_ids:
            return self.physical_ids[str(target_of(group))]
        return f"/aws/lambda/{self.function_name(function)}"

    def invoke(self, function: str, event: dict[str, Any]) -> tuple[bool, Any]:
        """Invoke a function (by logical id) once with `event`: (ok, response payload or error)."""
        if self.local:
            return _invoke_local(self.gateway_url or LOCAL_GATEWAY, function, event)
        response = self.client("lambda").invoke(
            FunctionName=self.function_name(function), Payload=json.dumps(event).encode()
        )
        payload = json.loads(response["Payload"].read() or b"null")
        return "FunctionError" not in response, payload


def local_target(
    endpoint_url: str = LOCAL_ENDPOINT, template: Path = TEMPLATE, gateway_url: str = LOCAL_GATEWAY
) -> Target:
    """The running local cloud: its moto server at `endpoint_url`, its template's shape, and what its gateway
    says of its stack (region, parameter values, outputs: one region of several has its own). A cloud whose
    gateway does not answer (a region cut) is taken to run the template's defaults in the local region."""
    import boto3

    _probe(endpoint_url)
    shape = shape_of_template(template)
    described = local_stack(gateway_url) or {}
    region = described.get("region", LOCAL_REGION)
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
        region_name=region,
    )
    target = Target(
        LOCAL_STACK,
        shape,
        {},
        region,
        True,
        session,
        endpoint_url=endpoint_url,
        gateway_url=gateway_url,
        parameters={
            **shape.parameter_defaults,
            **{
                name: ",".join(map(str, value)) if isinstance(value, list) else str(value)
                for name, value in described.get("parameters", {}).items()
            },
        },
        outputs={name: str(value) for name, value in described.get("outputs", {}).items()},
    )
    try:
        target.physical_ids = _stack_resources(target.client("cloudformation"), LOCAL_STACK)
    except Exception as exc:
        raise TargetError(
            f"no local cloud at {endpoint_url} ({type(exc).__name__}): start one with `make run`, point at "
            "it with --endpoint-url, or name a deployed stack with --stack"
        ) from exc
    return target


def local_stack(gateway_url: str) -> dict[str, Any] | None:
    """The local cloud's own account of its stack (`/_localcloud/api/stack`), or None if nothing answers."""
    return _local_json(f"{gateway_url}/_localcloud/api/stack")


def local_regions(*gateway_urls: str) -> list[dict[str, Any]]:
    """The regions of a local cloud running several (`make run-regions`), from the first of `gateway_urls`
    that answers: [{region, gateway, state}]; empty when it runs one region or none answers."""
    for url in gateway_urls:
        found = _local_json(f"{url}/_localcloud/api/regions")
        if found is not None:
            return list(found.get("regions", []))
    return []


def _local_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return dict(json.loads(response.read()))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _probe(endpoint_url: str) -> None:
    """Fail at once, not after the SDK's retries, when nothing listens at the local endpoint."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=2):
            pass
    except urllib.error.HTTPError:
        pass  # something answers: the stack lookup says whether it is a local cloud
    except (urllib.error.URLError, OSError) as exc:
        raise TargetError(
            f"no local cloud at {endpoint_url} ({exc}): start one with `make run`, point at it with "
            "--endpoint-url, or name a deployed stack with --stack"
        ) from exc


def aws_target(stack_name: str, region: str | None = None, profile: str | None = None) -> Target:
    """A deployed stack, by name: its resources, its processed (SAM-translated) template, and its
    parameters and outputs (one DescribeStacks)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        region = session.region_name
        if region is None:
            raise TargetError("no AWS region: pass --region or set AWS_REGION / a profile's region")
        cloudformation = session.client("cloudformation", region_name=region)
        body = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
        physical_ids = _stack_resources(cloudformation, stack_name)
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(f"cannot read stack {stack_name}: {exc}") from exc
    if isinstance(body, str):
        from samcli.yamlhelper import yaml_parse

        body = yaml_parse(body)
    parameters = {
        p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
        for p in stack.get("Parameters", [])
    }
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    return Target(
        stack_name,
        StackShape.of(json.loads(json.dumps(body))),
        physical_ids,
        region,
        False,
        session,
        parameters=parameters,
        outputs=outputs,
    )


def _stack_resources(cloudformation: Any, stack_name: str) -> dict[str, str]:
    found = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            if resource.get("PhysicalResourceId"):
                found[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return found


def _invoke_local(gateway_url: str, function: str, event: dict[str, Any]) -> tuple[bool, Any]:
    """The local cloud's own invoke endpoint (what `python -m localcloud invoke` uses)."""
    request = urllib.request.Request(
        f"{gateway_url}/_localcloud/invoke/{function}",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            result = json.loads(response.read())
    except (urllib.error.URLError, OSError) as exc:
        raise TargetError(
            f"cannot invoke {function} through the local cloud at {gateway_url}: {exc}"
        ) from exc
    if result.get("status") != "ok":
        return False, result.get("error")
    return True, result.get("payload")
