"""template.yaml: valid for SAM and cfn-lint, buildable with `sam build`, and secure by default."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.template import load_template, parameter_values
from localcloud.translate import translate
from localcloud.triggers import mapping_notes
from tests.support.aws import ROOT, single_region, template

TEMPLATE = ROOT / "template.yaml"

SAM = str(Path(sys.executable).with_name("sam"))


def sam(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    return subprocess.run(
        [SAM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def resources_of(kind: str) -> dict[str, dict]:
    return {name: res for name, res in template()["Resources"].items() if res["Type"] == kind}


@pytest.mark.slow
def test_sam_validate_with_lint_passes():
    result = sam("validate", "--lint", "--template", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sam_build_builds_every_function_and_layer(tmp_path):
    build_dir = tmp_path / "build"
    result = sam(
        "build",
        "--template",
        "template.yaml",
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-cached",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name, res in resources_of("AWS::Serverless::Function").items():
        handler_module = res["Properties"]["Handler"].split(".")[0]
        assert (build_dir / name / f"{handler_module}.py").is_file(), name
    for name, res in resources_of("AWS::Serverless::LayerVersion").items():
        package = Path(res["Properties"]["ContentUri"]).name
        assert (build_dir / name / "python" / package / "__init__.py").is_file(), name
    # What the layers built ship beside their own package: nothing the Powertools layer carries (its
    # cryptography seals personal data; a second copy would be laid over it file by file), nor twice.
    from tests.integration.test_deploy_guards import powertools_layer

    shipped: dict[str, str] = {}
    for name in resources_of("AWS::Serverless::LayerVersion"):
        for dist_info in (build_dir / name / "python").glob("*.dist-info"):
            distribution = re.sub(r"[-_.]+", "-", dist_info.name.split("-")[0]).lower()
            assert distribution not in powertools_layer(), f"{name} ships {distribution} again"
            assert distribution not in shipped, f"{name} and {shipped[distribution]} both ship {distribution}"
            shipped[distribution] = name
    assert not (build_dir / "EventCoreLayer" / "python" / "cryptography").exists()
    shutil.rmtree(build_dir)


def test_tables_keep_their_facts_safe():
    for name, table in resources_of("AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        if name == "PersonalDataKeys":
            # No backups of the customers' data keys: a restore would bring an erased key back. Guarded
            # against deletion instead (docs/data-protection.md).
            assert "PointInTimeRecoverySpecification" not in props
            assert (table["DeletionPolicy"], props["DeletionProtectionEnabled"]) == ("Retain", True)
            continue
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        if "EventLog" in name:
            assert table["DeletionPolicy"] == "Retain", name
            assert table["UpdateReplacePolicy"] == "Retain", name
            assert props["DeletionProtectionEnabled"] is True, name


def as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_every_role_is_least_privilege_once_translated():
    # What deploys is the SAM translator's output: SAM adds AWS-managed policies (logs and X-Ray on every
    # resource) to the roles it generates, so each function has a role of its own, scoped, plus the stack's
    # one shared policy: its own log group and traces.
    sam_template = load_template(TEMPLATE)
    cloudformation = translate(sam_template, parameter_values(sam_template, TEMPLATE), ROOT).cfn
    resources = cloudformation["Resources"]
    every_role = {name: r for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    # Firehose's role (the archive's delivery streams) is a service's, not a function's: no shared policy.
    services = {"ArchiveDeliveryRole"}
    roles = {name: r for name, r in every_role.items() if name not in services}
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(roles) == len(functions)
    for name in services:
        assert "ManagedPolicyArns" not in every_role[name]["Properties"], name
    shared = resources["FunctionLogsAndTraces"]["Properties"]["PolicyDocument"]["Statement"]
    logs, traces, active_region = shared
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    # in a replicated stack only (docs/failover.md): reading the one item that says which region is active
    replicated, read, absent = active_region["Fn::If"]
    assert (replicated, absent) == ("Replicated", {"Ref": "AWS::NoValue"})
    assert read["Action"] == "dynamodb:GetItem"
    assert read["Resource"]["Fn::Sub"][0].endswith(":table/${AWS::StackName}-active-region-${PairId}")
    # `/` ends the stack's name (a stack name has none): stack `orders` cannot write `orders-prod`'s logs.
    assert logs["Resource"]["Fn::Sub"].endswith(":log-group:/aws/lambda/${AWS::StackName}/*:*")
    assert all(action.startswith("xray:") for action in traces["Action"])
    for name, role in every_role.items():
        if name in roles:
            assert role["Properties"].get("ManagedPolicyArns") == [{"Ref": "FunctionLogsAndTraces"}], name
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                assert not any(a.endswith("*") for a in actions), f"{name}: wildcard action in {actions}"
                assert statement["Resource"] != "*", f"{name}: {actions} on every resource"
    # every function logs to a log group of its own that the shared policy covers (its name is generated, so
    # that it fits Lambda's 64 characters whatever the stack's name: the log group cannot be named after it)
    for function in functions:
        assert "FunctionName" not in function["Properties"]
        group = resources[function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/${AWS::StackName}/")
    groups = [f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in functions]
    assert len(set(groups)) == len(functions)


# Staff routes by path prefix, and the scope each needs; every other route is a customer's, with no scope.
STAFF_SCOPES = {
    "/inventory/": "orders/warehouse",
    "/shipments": "orders/warehouse",
    "/customers/{customer_id}": "orders/privacy",
}
# Staff routes under a customer's resource: the warehouse records a return's parcel received.
STAFF_SUFFIXES = {"/returns/{return_id}/receipt": "orders/warehouse"}


def test_every_route_is_behind_the_jwt_authorizer_and_staff_routes_need_their_scope():
    api = template()["Resources"]["OrdersHttpApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "OrdersJwt"
    routes = 0
    for name, function in resources_of("AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            routes += 1
            properties = event["Properties"]
            auth = properties.get("Auth", {})
            assert auth.get("Authorizer", "OrdersJwt") == "OrdersJwt", f"{name} overrides the authorizer"
            path = properties["Path"]
            scope = next((s for prefix, s in STAFF_SCOPES.items() if path.startswith(prefix)), None) or next(
                (s for suffix, s in STAFF_SUFFIXES.items() if path.endswith(suffix)), None
            )
            assert auth.get("AuthorizationScopes", []) == ([scope] if scope else []), (
                name,
                properties["Path"],
            )
    assert routes >= 7


def test_personal_data_never_reaches_a_log_line_or_a_trace():
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"  # requests carry addresses in clear
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"  # so do the owner's answers
    for name, function in resources_of("AWS::Serverless::Function").items():
        own = function["Properties"].get("Environment", {}).get("Variables", {})
        assert not {"POWERTOOLS_LOGGER_LOG_EVENT", "POWERTOOLS_TRACER_CAPTURE_RESPONSE"} & set(own), name


def test_only_the_privacy_api_destroys_data_keys_and_only_the_orders_api_makes_them():
    def roles_allowed(action: str, resource: str) -> set[str]:
        allowed = set()
        for name, role in resources_of("AWS::IAM::Role").items():
            for policy in role["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    resources = [single_region(r) for r in as_list(statement["Resource"])]
                    if (
                        action in as_list(statement["Action"])
                        and {"Fn::GetAtt": [resource, "Arn"]} in resources
                    ):
                        allowed.add(name)
        return allowed

    assert roles_allowed("dynamodb:DeleteItem", "PersonalDataKeys") == {"PrivacyApiRole"}
    assert roles_allowed("dynamodb:PutItem", "PersonalDataKeys") == {"OrdersApiRole"}
    assert roles_allowed("kms:GenerateDataKey", "PersonalDataKey") == {"OrdersApiRole"}
    assert roles_allowed("kms:Decrypt", "PersonalDataKey") == {
        "OrdersApiRole",
        "OrdersQueryApiRole",
        "ShippingCommandsConsumerRole",
        "ShippingApiRole",
    }


# CloudFormation's quotas for one stack (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
# cloudformation-limits.html): 500 resources, 200 parameters. The main stack is kept to 60% of them, so the
# open work (a second region, an archive, returns, stock buckets) has room; the alarms, which grow with every
# function and queue, are a nested stack of their own.
MAX_RESOURCES, MAX_PARAMETERS, HEADROOM = 500, 200, 0.6


def test_every_stack_stays_well_under_cloudformations_limits():
    from ops.alarms import operations_path
    from ops.template import load_sam
    from ops.template import translate as sam_translate

    main = sam_translate(load_sam(TEMPLATE))
    operations = load_sam(operations_path(TEMPLATE))
    mining = load_sam(TEMPLATE.parent / "mining.yaml")
    for name, stack in (("template.yaml", main), ("operations.yaml", operations), ("mining.yaml", mining)):
        resources, parameters = len(stack["Resources"]), len(stack.get("Parameters", {}))
        assert resources <= MAX_RESOURCES * HEADROOM, f"{name}: {resources} resources"
        assert parameters <= MAX_PARAMETERS * HEADROOM, f"{name}: {parameters} parameters"
    assert main["Resources"]["Operations"]["Type"] == "AWS::CloudFormation::Stack"
    assert main["Resources"]["Mining"]["Type"] == "AWS::CloudFormation::Stack"


def test_the_orders_publisher_publishes_what_orders_published_says_and_its_filter_agrees():
    # The rule that keeps the process manager's streams (and the erasure records) off order-events lives in
    # orders.published; the publisher function is told it, and its mapping's filter cuts the rest early.
    from eventcore.messaging.publisher import published_aggregates
    from orders.published import PUBLISHED_AGGREGATES

    publisher = template()["Resources"]["OrderPublisherFunction"]["Properties"]
    told = publisher["Environment"]["Variables"]["PUBLISHED_AGGREGATES"]
    assert published_aggregates(told) == PUBLISHED_AGGREGATES
    (event,) = publisher["Events"].values()
    (pattern,) = [json.loads(f["Pattern"]) for f in event["Properties"]["FilterCriteria"]["Filters"]]
    prefixes = {p["prefix"] for p in pattern["dynamodb"]["Keys"]["stream"]["S"]}
    assert prefixes == {f"{aggregate}-" for aggregate in PUBLISHED_AGGREGATES}


def test_the_sales_analytics_filter_lets_through_every_event_the_counters_count():
    # A filter drops what it does not match: an event type that moves a sales figure must be in it.
    projector = template()["Resources"]["SalesAnalyticsProjectorFunction"]["Properties"]
    (event,) = projector["Events"].values()
    patterns = [json.loads(f["Pattern"]) for f in event["Properties"]["FilterCriteria"]["Filters"]]
    prefixes = {p["prefix"] for pattern in patterns for p in pattern["data"]["type"]}
    counted = ("OrderCreated", "OrderCancelled", "ReturnRefunded")  # orders.analytics.sales_contributions
    assert prefixes == {f"com.example.orders.{event_type}." for event_type in counted}


def test_the_local_cloud_emulates_or_knowingly_ignores_every_mapping_setting():
    # ParallelizationFactor and ScalingConfig are ignored knowingly (one batch per shard, two workers a
    # function: within what Lambda may do); anything else unknown would be named at start.
    sam_template = load_template(TEMPLATE)
    resources = translate(sam_template, parameter_values(sam_template, TEMPLATE), ROOT).cfn["Resources"]
    mappings = {
        k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    assert [note for logical_id, props in mappings.items() for note in mapping_notes(logical_id, props)] == []
    factors = {k: p.get("ParallelizationFactor", 1) for k, p in mappings.items() if "StartingPosition" in p}
    # the publishers keep each aggregate's order on Kinesis: Lambda keeps a DynamoDB stream's order per item
    # (a commit) only once more than one batch of a shard runs at a time
    assert all(factor == 1 for k, factor in factors.items() if "Publisher" in k)
    assert {k: f for k, f in factors.items() if "Projector" in k and "SalesAnalytics" not in k} == {
        "OrderProjectorFunctionOrdersLog": 4,
        "ShipmentProjectorFunctionShippingLog": 4,
    }
