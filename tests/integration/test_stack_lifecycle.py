"""A stack can be deleted and created again under its name, and under any name CloudFormation accepts: what a
deleted stack leaves behind is kept on purpose and listed in docs/operations.md, nothing it leaves behind is
named so that the next stack of that name collides with it, and every name the templates build fits its
service's limit for the longest stack name (128 characters). The limits and where they are documented:
docs/operations.md, "Names"."""

from __future__ import annotations

import re
from typing import Any

import pytest

from localcloud.intrinsics import Resolver
from ops.alarms import operations_path
from ops.template import ROOT, TEMPLATE, load_sam, translate

# CreateStack: letters, digits and hyphens, a letter first, at most 128 characters.
LONGEST_STACK_NAME = "o" + "rders-microsystem-with-a-very-long-stack-name" * 3
LONGEST_STACK_NAME = LONGEST_STACK_NAME[:128]
REGION = "ap-southeast-5"  # as long as any commercial region's name
ACCOUNT = "123456789012"


def stack_id(uuid: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{LONGEST_STACK_NAME}/{uuid}"


FIRST = stack_id("51af3dc0-da77-11e4-872e-1234567db123")
RECREATED = stack_id("8f1c2a90-1b2c-11f0-9d3e-0a1b2c3d4e5f")  # the same name, created again

# A layer version ARN is at most 140 characters (PublishLayerVersion's LayerVersionArn): the longest
# partition and region prefix, and a version number of up to six digits, leave this much for the name.
LAYER_ARN_PREFIX = f"arn:aws-us-gov:lambda:{REGION}:{ACCOUNT}:layer:"
LAYER_NAME_LIMIT = 140 - len(LAYER_ARN_PREFIX) - len(":999999")
# A parameter's name counts with its ARN (arn:aws:ssm:<region>:<account>:parameter) toward 1011 characters.
SSM_NAME_LIMIT = 1011 - len(f"arn:aws-us-gov:ssm:{REGION}:{ACCOUNT}:parameter")

# (resource type, the property that names it): the service's limit on that name.
NAME_LIMITS: dict[tuple[str, str], int] = {
    ("AWS::Lambda::Function", "FunctionName"): 64,
    ("AWS::Lambda::LayerVersion", "LayerName"): LAYER_NAME_LIMIT,
    ("AWS::SQS::Queue", "QueueName"): 80,  # .fifo included
    ("AWS::Kinesis::Stream", "Name"): 128,
    ("AWS::DynamoDB::Table", "TableName"): 255,
    ("AWS::DynamoDB::GlobalTable", "TableName"): 255,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::SSM::Parameter", "Name"): SSM_NAME_LIMIT,
    ("AWS::KMS::Alias", "AliasName"): 256,
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
    ("AWS::CloudWatch::Dashboard", "DashboardName"): 255,
    ("AWS::ApiGatewayV2::Stage", "StageName"): 128,
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"): 128,
    ("AWS::S3::Bucket", "BucketName"): 63,
    ("AWS::Cognito::UserPool", "UserPoolName"): 128,
    ("AWS::Cognito::UserPoolClient", "ClientName"): 128,
    ("AWS::Cognito::UserPoolGroup", "GroupName"): 128,
    ("AWS::Cognito::UserPoolResourceServer", "Identifier"): 256,
    ("AWS::Cognito::UserPoolResourceServer", "Name"): 256,
    ("AWS::KinesisFirehose::DeliveryStream", "DeliveryStreamName"): 64,
    ("AWS::Logs::LogStream", "LogStreamName"): 512,
    ("AWS::Glue::Table", "Name"): 255,
    ("AWS::Athena::WorkGroup", "Name"): 128,
    ("AWS::Athena::NamedQuery", "Name"): 128,
}
# Properties that end in Name but name another resource (or a metric), not the resource itself.
REFERENCES = {
    ("AWS::Lambda::EventSourceMapping", "FunctionName"),
    ("AWS::Lambda::Permission", "FunctionName"),
    ("AWS::CloudWatch::Alarm", "MetricName"),
    ("AWS::Logs::LogStream", "LogGroupName"),
    ("AWS::Glue::Table", "DatabaseName"),
}
RETAINED = ("Retain", "RetainExceptOnCreate")


@pytest.fixture(scope="module")
def stacks() -> dict[str, dict[str, Any]]:
    """The two templates CloudFormation creates: template.yaml as SAM translates it, and the operations."""
    return {
        "template.yaml": translate(load_sam(TEMPLATE)),
        "operations.yaml": load_sam(operations_path(TEMPLATE)),
        "mining.yaml": load_sam(ROOT / "mining.yaml"),
    }


def names(cfn: dict[str, Any], stack_arn: str) -> dict[tuple[str, str], str]:
    """Every name the template gives a resource, (logical id, property) -> the name, for a stack of the
    longest name in the longest region; a parameter is its default (operations.yaml's StackName: the
    parent's name), a resource's Ref its logical id."""
    parameters: dict[str, Any] = {
        name: spec.get("Default", name) for name, spec in cfn.get("Parameters", {}).items()
    }
    parameters |= {
        "StackName": LONGEST_STACK_NAME,
        "AWS::StackName": LONGEST_STACK_NAME,
        "AWS::StackId": stack_arn,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::Partition": "aws-us-gov",
        "AWS::URLSuffix": "amazonaws.com",
    }
    resolver = Resolver(
        parameters, cfn.get("Conditions", {}), lambda logical_id: logical_id, lambda i, a: f"{i}.{a}"
    )
    found = {}
    for logical_id, resource in cfn["Resources"].items():
        for prop, value in resource.get("Properties", {}).items():
            named = prop.endswith("Name") or prop == "Identifier"
            if named and (resource["Type"], prop) not in REFERENCES:
                found[(logical_id, prop)] = str(resolver.resolve(value))
    return found


def test_every_name_the_templates_build_fits_its_service_for_the_longest_stack_name(stacks):
    assert len(LONGEST_STACK_NAME) == 128
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", LONGEST_STACK_NAME)
    checked = 0
    for template, cfn in stacks.items():
        for (logical_id, prop), name in names(cfn, FIRST).items():
            kind = cfn["Resources"][logical_id]["Type"]
            assert (kind, prop) in NAME_LIMITS, (
                f"{template}: {logical_id}.{prop} names a resource: add its service's limit to NAME_LIMITS"
            )
            limit = NAME_LIMITS[(kind, prop)]
            assert len(name) <= limit, f"{template}: {logical_id}.{prop} is {len(name)} > {limit}: {name}"
            checked += 1
    assert checked > 100
    # The HTTP API is named after the stack (SAM: its OpenAPI title); CreateApi takes up to 128 characters.
    api = stacks["template.yaml"]["Resources"]["OrdersHttpApi"]["Properties"]["Body"]["info"]["title"]
    assert api == {"Ref": "AWS::StackName"}


def test_no_function_stream_or_queue_takes_the_stacks_name_in_its_own():
    # CloudFormation names them (functions, streams, standard queues: a name of its making fits its service)
    # or the template does with the stack's id (FIFO queues, whose generated names can exceed SQS's 80).
    for name, resource in translate(load_sam(TEMPLATE))["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::Lambda::Function", "AWS::Kinesis::Stream"):
            assert not {"FunctionName", "Name"} & set(properties), name
        if resource["Type"] == "AWS::SQS::Queue" and "QueueName" in properties:
            assert properties.get("FifoQueue") is True, f"{name}: let CloudFormation name a standard queue"
            assert "AWS::StackName" not in str(properties["QueueName"]), name


def operations_doc_leftovers() -> set[str]:
    """The logical ids docs/operations.md lists in its table of what a deleted stack leaves behind."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## What a deleted stack leaves behind", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)`", section, re.MULTILINE))


def test_what_a_deleted_stack_leaves_behind_is_listed_and_named_so_that_nothing_collides(stacks):
    listed = operations_doc_leftovers()
    retained = {
        logical_id
        for cfn in stacks.values()
        for logical_id, resource in cfn["Resources"].items()
        if resource.get("DeletionPolicy") in RETAINED
    }
    assert retained, "the event logs at least outlive their stack"
    assert retained == listed, (
        f"docs/operations.md's table lists {sorted(listed - retained)} that are not retained and misses "
        f"{sorted(retained - listed)}"
    )
    # A retained resource that the template names would be in the way of the next stack of the same name,
    # unless its name changes with the stack's id: created again, the stack names its own anew.
    cfn = stacks["template.yaml"]
    first, again = names(cfn, FIRST), names(cfn, RECREATED)
    named = {(logical_id, prop) for (logical_id, prop) in first if logical_id in retained}
    assert named, "the retained FIFO dead-letter queues are named (with the stack's id)"
    for key in named:
        assert first[key] != again[key], f"{key[0]} keeps its name when the stack is created again"


def test_only_what_holds_facts_or_parked_messages_is_retained(stacks):
    cfn = stacks["template.yaml"]
    kinds = {
        cfn["Resources"][logical_id]["Type"]
        for logical_id in operations_doc_leftovers()
        if logical_id in cfn["Resources"]
    }
    assert kinds == {
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",  # a replicated stack's (docs/failover.md)
        "AWS::KMS::Key",
        "AWS::KMS::ReplicaKey",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
    }
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"].startswith("AWS::Cognito::") or resource["Type"] == "AWS::Lambda::LayerVersion":
            assert resource.get("DeletionPolicy", "Delete") == "Delete", logical_id
