"""A deploy reproduces what the tests ran and works as it is: the Powertools layer is the version pinned in
requirements-dev.txt and each function gets one copy of each dependency from its layers; a dev deploy makes
its own user pool and the API trusts it, prod trusts the identity provider it is given and refuses exactly
what the README says; dead-letter queues outlive their stack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from localcloud.intrinsics import Resolver
from ops.template import ROOT, TEMPLATE, StackShape, default_parameters, load_sam, translate


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


# --- The identity provider: the stack's own user pool in dev, the one given in prod -----------------------

REAL_PROVIDER = {
    "JwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example",
    "JwtAudience": "4tq1example",
}


def deployed(sam: dict[str, Any], **overrides: str) -> tuple[dict[str, Any], Resolver]:
    """The translated template as `sam deploy` would create it with these parameters (none: the defaults,
    what `make deploy` gives), and a resolver of its intrinsics: a resource's Ref is `<LogicalId>`."""
    parameters: dict[str, Any] = {**default_parameters(sam), **overrides}
    cfn = translate(sam, parameters)
    pseudo = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com"}
    resolver = Resolver(
        {**parameters, **pseudo}, cfn.get("Conditions", {}), lambda i: f"<{i}>", lambda i, a: f"<{i}.{a}>"
    )
    return cfn, resolver


def created(cfn: dict[str, Any], resolver: Resolver) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in cfn["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }


def authorizer(cfn: dict[str, Any], resolver: Resolver) -> dict[str, Any]:
    body = cfn["Resources"]["OrdersHttpApi"]["Properties"]["Body"]
    scheme = body["components"]["securitySchemes"]["OrdersJwt"]["x-amazon-apigateway-authorizer"]
    return dict(resolver.resolve(scheme["jwtConfiguration"]))


def route_scopes(cfn: dict[str, Any]) -> set[str]:
    body = cfn["Resources"]["OrdersHttpApi"]["Properties"]["Body"]
    return {
        scope
        for operations in body["paths"].values()
        for operation in operations.values()
        for requirement in operation.get("security", [])
        for scope in requirement.get("OrdersJwt", [])
    }


def test_a_dev_deploy_makes_its_own_user_pool_with_the_staff_scopes_and_the_api_trusts_it(sam):
    # WHEN the template is deployed with no parameter given (`make deploy` gives Stage=dev, the default)
    cfn, resolver = deployed(sam)
    resources = created(cfn, resolver)

    # THEN a user pool, its resource server with the two staff scopes, an app client, a group per scope
    assert resources["UserPool"]["Type"] == "AWS::Cognito::UserPool"
    server = resources["UserPoolApi"]["Properties"]
    offered = {f"{server['Identifier']}/{scope['ScopeName']}" for scope in server["Scopes"]}
    assert offered == {"orders/warehouse", "orders/privacy"} == route_scopes(cfn)
    assert resources["UserPoolClient"]["Properties"]["UserPoolId"] == {"Ref": "UserPool"}
    groups = {
        r["Properties"]["GroupName"] for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"
    }
    assert groups == offered
    # ... whose access tokens carry a staff group's scope: the V2 trigger, which needs the Essentials plan
    pool = resources["UserPool"]["Properties"]
    assert pool["UserPoolTier"] == "ESSENTIALS"
    assert pool["LambdaConfig"]["PreTokenGenerationConfig"] == {
        "LambdaArn": {"Fn::GetAtt": ["StaffScopesFunction", "Arn"]},
        "LambdaVersion": "V2_0",
    }
    permission = resources["StaffScopesPermission"]["Properties"]
    assert (permission["Principal"], permission["SourceArn"]) == (
        "cognito-idp.amazonaws.com",
        {"Fn::GetAtt": ["UserPool", "Arn"]},
    )
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    # AND the HTTP API's authorizer trusts that pool: its issuer URL, its app client as the audience
    assert authorizer(cfn, resolver) == {
        "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/<UserPool>",
        "audience": ["<UserPoolClient>"],
    }
    # AND the outputs say what a client needs
    outputs = {
        name: resolver.resolve(output["Value"])
        for name, output in cfn["Outputs"].items()
        if "Condition" not in output or resolver.condition(output["Condition"])
    }
    assert outputs["UserPoolId"] == "<UserPool>"
    assert outputs["UserPoolClientId"] == "<UserPoolClient>"
    assert outputs["TokenIssuer"] == "https://cognito-idp.eu-west-1.amazonaws.com/<UserPool>"
    assert refused(sam, Stage="dev") == []


def test_a_prod_deploy_trusts_the_identity_provider_it_is_given_and_makes_no_user_pool(sam):
    cfn, resolver = deployed(sam, Stage="prod", AlarmEmail="oncall@example.com", **REAL_PROVIDER)
    resources = created(cfn, resolver)
    assert not [name for name, r in resources.items() if r["Type"].startswith("AWS::Cognito::")]
    assert "StaffScopesFunction" not in resources
    assert authorizer(cfn, resolver) == {
        "issuer": REAL_PROVIDER["JwtIssuer"],
        "audience": [REAL_PROVIDER["JwtAudience"]],
    }
    assert refused(sam, Stage="prod", AlarmEmail="oncall@example.com", **REAL_PROVIDER) == []


def readme_refusals() -> list[str]:
    """The messages the README's deploy section says CloudFormation refuses a deploy with."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploy to AWS", 1)[1].split("\n## ", 1)[0]
    listed = section.split("refuses the deploy with one of these messages", 1)[1].split("\n\n", 2)[1]
    return re.findall(r"^- `([^`]+)`", listed, re.MULTILINE)


def test_a_deploy_is_refused_for_exactly_what_the_readme_says(sam):
    messages = readme_refusals()
    every = [a["AssertDescription"] for rule in sam["Rules"].values() for a in rule["Assertions"]]
    assert sorted(messages) == sorted(every), "the README's deploy section lists the template's Rules"
    email = "oncall@example.com"
    for stage in ("dev", "prod"):
        for issuer in ("", REAL_PROVIDER["JwtIssuer"]):
            for audience in ("", REAL_PROVIDER["JwtAudience"]):
                for alarm_email in ("", email):
                    given = {"Stage": stage, "JwtIssuer": issuer, "JwtAudience": audience}
                    failures = set(refused(sam, AlarmEmail=alarm_email, **given))
                    # What the README says, rule by rule:
                    expected = set()
                    if stage == "prod" and not issuer:
                        expected.add(messages[0])
                    if stage == "prod" and not audience:
                        expected.add(messages[1])
                    if stage == "prod" and not alarm_email:
                        expected.add(messages[2])
                    if audience and not issuer:
                        expected.add(messages[3])
                    if issuer and not audience:
                        expected.add(messages[4])
                    assert failures == expected, (given, alarm_email)


# --- One copy of each dependency across the layers a function uses -----------------------------------------

# What the public Powertools layer holds: `pip install aws-lambda-powertools[all]==<version>` into the layer,
# less what its build removes because the Lambda runtime has it (Powertools' layer_v3/docker/Dockerfile).
POWERTOOLS_LAYER_REMOVES = {
    "boto3",
    "botocore",
    "s3transfer",
    "python-dateutil",
    "urllib3",
    "six",
    "jmespath",
}


def _distribution_key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: list[str]) -> set[str]:
    """The distributions `pip install <requirements>` would put in a layer, found from the installed ones'
    metadata (the virtualenv holds every pin of requirements-dev.txt)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    found: set[str] = set()
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        key = _distribution_key(requirement.name)
        extras = sorted(requirement.extras) or [""]
        if key in found and not requirement.extras:
            continue
        found.add(key)
        try:
            requires = metadata.distribution(requirement.name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            dependency = Requirement(text)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                todo.append(dependency)
    return found


def powertools_layer() -> set[str]:
    version = pinned("aws_lambda_powertools")
    return closure([f"aws-lambda-powertools[all]=={version}"]) - POWERTOOLS_LAYER_REMOVES


def layer_contents(folder: Path) -> set[str]:
    """What one of our layers ships: its package(s) and the closure of its requirements.txt."""
    packages = {_distribution_key(p.name) for p in folder.iterdir() if (p / "__init__.py").is_file()}
    lines = (folder / "requirements.txt").read_text().splitlines()
    requirements = [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]
    return packages | closure(requirements)


def test_every_function_gets_one_copy_of_each_dependency_from_its_layers(sam):
    cfn = translate(sam)
    ours = {name: r for name, r in sam["Resources"].items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    contents: dict[str, set[str]] = {}
    for name, resource in cfn["Resources"].items():
        if resource["Type"] == "AWS::Lambda::LayerVersion":  # SAM's id: the layer's, and a content hash
            (layer,) = [layer for layer in ours if name.startswith(layer)]
            contents[name] = layer_contents(ROOT / ours[layer]["Properties"]["ContentUri"])
    assert {"cryptography", "pydantic", "aws-lambda-powertools"} <= powertools_layer()
    functions = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        shipped: dict[str, str] = {}
        for layer in function["Properties"]["Layers"]:
            name = layer["Ref"]
            what = powertools_layer() if name == "PowertoolsLayerArn" else contents[name]
            for distribution in what:
                assert distribution not in shipped, (
                    f"{function['Properties'].get('Description')}: {distribution} in "
                    f"{shipped.get(distribution)} and in {name}; Lambda lays one over the other file by file"
                )
                shipped[distribution] = name


def test_the_cryptography_the_tests_ran_is_one_the_powertools_layer_may_carry():
    # Personal data is sealed with the Powertools layer's cryptography (the core layer ships none): the
    # version pinned for the tests must be one Powertools' [all] extra accepts, as the layer's build did.
    from importlib import metadata

    from packaging.requirements import Requirement

    requires = metadata.distribution("aws-lambda-powertools").requires or []
    (wanted,) = [
        Requirement(text)
        for text in requires
        if Requirement(text).name == "cryptography"
        and Requirement(text).marker is not None
        and Requirement(text).marker.evaluate({"extra": "all"})
    ]
    assert metadata.version("aws-lambda-powertools") == pinned("aws_lambda_powertools")
    assert wanted.specifier.contains(pinned("cryptography")), (
        f"cryptography {pinned('cryptography')} not in {wanted}"
    )
