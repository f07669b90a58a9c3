"""A deploy reproduces what the tests ran: the Powertools layer is the version pinned in requirements-dev.txt,
prod refuses the placeholder identity provider, and dead-letter queues outlive their stack."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ops.template import ROOT, TEMPLATE, StackShape, load_sam, translate


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_sam(TEMPLATE)


def pinned(package: str) -> str:
    text = (ROOT / "requirements-dev.txt").read_text()
    found = re.search(rf"^{re.escape(package)}==(\S+)$", text, re.MULTILINE | re.IGNORECASE)
    assert found, f"{package} is not pinned in requirements-dev.txt"
    return found.group(1)


def test_the_powertools_layer_is_the_version_the_tests_ran(sam):
    parameter = sam["Parameters"]["PowertoolsLayerArn"]
    functions = sam["Globals"]["Function"]
    (architecture,) = functions["Architectures"]
    version = pinned("aws_lambda_powertools")
    # One public parameter per Powertools version: /aws/service/powertools/python/<arch>/<runtime>/<version>
    expected = f"/aws/service/powertools/python/{architecture}/{functions['Runtime']}/{version}"
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == expected, "pin the layer to aws_lambda_powertools in requirements-dev.txt"


def evaluate(value: Any, parameters: dict[str, str]) -> Any:
    """The few intrinsics CloudFormation rules use here: Ref, Equals, Not, And, Or."""
    if isinstance(value, dict):
        ((name, argument),) = value.items()
        match name:
            case "Ref":
                return parameters[argument]
            case "Fn::Equals":
                left, right = (evaluate(item, parameters) for item in argument)
                return str(left) == str(right)
            case "Fn::Not":
                return not evaluate(argument[0], parameters)
            case "Fn::And":
                return all(evaluate(item, parameters) for item in argument)
            case "Fn::Or":
                return any(evaluate(item, parameters) for item in argument)
        raise AssertionError(f"unexpected intrinsic {name} in a rule")
    return value


def refused(sam: dict[str, Any], **overrides: str) -> list[str]:
    """The assertion descriptions CloudFormation would refuse a change set with, for these parameters."""
    parameters = {name: str(spec.get("Default", "")) for name, spec in sam["Parameters"].items()}
    parameters.update(overrides)
    failures = []
    for rule in sam["Rules"].values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], parameters):
            continue
        failures += [
            a["AssertDescription"] for a in rule["Assertions"] if not evaluate(a["Assert"], parameters)
        ]
    return failures


def test_prod_refuses_the_placeholder_identity_provider_and_a_silent_alarm_topic(sam):
    failures = refused(sam, Stage="prod")
    assert any("JwtIssuer" in failure for failure in failures)
    assert any("JwtAudience" in failure for failure in failures)
    assert any("AlarmEmail" in failure for failure in failures)


def test_prod_with_a_real_identity_provider_and_an_alarm_address_deploys(sam):
    real = {
        "JwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example",
        "JwtAudience": "4tq1example",
        "AlarmEmail": "oncall@example.com",
    }
    assert refused(sam, Stage="prod", **real) == []


def test_dev_keeps_working_with_the_defaults(sam):
    assert refused(sam, Stage="dev") == []


def test_the_rules_survive_the_sam_translation(sam):
    assert translate(sam)["Rules"] == sam["Rules"]


def test_every_queue_that_can_hold_parked_messages_is_retained():
    cfn = translate(load_sam(TEMPLATE))
    dead_letter_queues = StackShape.of(cfn).dead_letter_queues()
    assert dead_letter_queues
    for dlq in dead_letter_queues:
        # A failed batch's notice only points at the batch: the bucket holding it must outlive the stack.
        kept = dlq.bucket if dlq.kind == "failed-batches" else dlq.logical_id
        assert kept is not None
        resource = cfn["Resources"][kept]
        assert resource.get("DeletionPolicy") == "Retain", kept
        assert resource.get("UpdateReplacePolicy") == "Retain", kept
