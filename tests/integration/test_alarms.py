"""The alarms of the translated template, checked resource by resource: whatever the template holds (and
whatever is added to it later), every event source mapping, queue and function has its alarms on the real
CloudWatch metrics and dimensions, and every alarm notifies the alarm topic. The alarms live in the nested
operations stack (operations.yaml), read here with the values template.yaml hands it. A new resource fails
here until `make alarms` has regenerated it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ops.alarms import ALARMS_PER_WIDGET, alarmed, current_section, generate, operations_path, resolved
from ops.template import TEMPLATE, StackShape, load_sam, target_of, translate

TOPIC = "AlarmTopic"
HINT = "run `make alarms` to regenerate operations.yaml and its section of template.yaml"


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(load_sam(TEMPLATE))


@pytest.fixture(scope="module")
def shape(cfn: dict[str, Any]) -> StackShape:
    return alarmed(cfn)


@pytest.fixture(scope="module")
def operations() -> dict[str, Any]:
    return resolved(TEMPLATE)


@pytest.fixture(scope="module")
def alarms(operations: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in operations.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def metrics_of(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, str | None]]]:
    """(namespace, metric, {dimension: logical id it points at}) of a single-metric or metric-math alarm."""
    found = []
    if "MetricName" in alarm:
        found.append((alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", [])))
    for query in alarm.get("Metrics", []):
        metric = query.get("MetricStat", {}).get("Metric")
        if metric:
            found.append((metric["Namespace"], metric["MetricName"], metric.get("Dimensions", [])))
    return [
        (namespace, name, {d["Name"]: target_of(d["Value"]) or d["Value"] for d in dimensions})
        for namespace, name, dimensions in found
    ]


def watched(
    alarms: dict[str, dict[str, Any]], namespace: str, metric: str, dimension: str
) -> set[str | None]:
    """The resources (logical ids) that have an alarm on `namespace`/`metric` by `dimension`."""
    return {
        dimensions.get(dimension)
        for alarm in alarms.values()
        for ns, name, dimensions in metrics_of(alarm)
        if ns == namespace and name == metric
    }


def test_every_function_has_errors_and_throttles_alarms(shape, alarms):
    assert shape.functions
    for metric in ("Errors", "Throttles"):
        missing = set(shape.functions) - watched(alarms, "AWS/Lambda", metric, "FunctionName")
        assert not missing, f"functions without a {metric} alarm: {sorted(missing)}; {HINT}"


def test_every_event_source_mapping_has_its_lag_alarm(shape, alarms):
    # Streams: the consumer's IteratorAge. Queues: the age of the queue's oldest message.
    assert shape.mappings
    lagging = watched(alarms, "AWS/Lambda", "IteratorAge", "FunctionName")
    oldest = watched(alarms, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName")
    for mapping in shape.mappings:
        if mapping.source_kind in ("dynamodb", "kinesis"):
            assert mapping.function in lagging, f"{mapping.logical_id}: no IteratorAge alarm; {HINT}"
        else:
            assert mapping.source in oldest, f"{mapping.logical_id}: no oldest-message alarm; {HINT}"


def test_every_queue_and_dead_letter_queue_has_age_and_depth_alarms(shape, alarms):
    assert shape.dead_letter_queues()
    for metric in ("ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"):
        missing = set(shape.queues) - watched(alarms, "AWS/SQS", metric, "QueueName")
        assert not missing, f"queues without a {metric} alarm: {sorted(missing)}; {HINT}"


def test_a_single_parked_message_raises_the_dead_letter_queue_alarm(shape, alarms):
    for dlq in shape.dead_letter_queues():
        depth = [
            alarm
            for alarm in alarms.values()
            for ns, name, dims in metrics_of(alarm)
            if name == "ApproximateNumberOfMessagesVisible" and dims.get("QueueName") == dlq.logical_id
        ]
        assert len(depth) == 1, dlq.logical_id
        assert str(depth[0]["Threshold"]) == "1", dlq.logical_id
        assert depth[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", dlq.logical_id


def test_tables_streams_and_apis_have_throttling_and_error_alarms(shape, alarms):
    for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
        assert set(shape.tables) <= watched(alarms, "AWS/DynamoDB", metric, "TableName"), HINT
    for metric in ("WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded"):
        assert set(shape.streams) <= watched(alarms, "AWS/Kinesis", metric, "StreamName"), HINT
    assert shape.apis
    for metric in ("5xx", "Latency"):
        assert set(shape.apis) <= watched(alarms, "AWS/ApiGateway", metric, "ApiId"), HINT
        for alarm in alarms.values():
            for _, name, dims in metrics_of(alarm):
                if name == metric:
                    assert dims.get("Stage") == "$default", "HTTP API metrics are per ApiId and Stage"


def test_the_saga_signals_have_alarms(alarms):
    queries = " ".join(q.get("Expression", "") for a in alarms.values() for q in a.get("Metrics", []))
    for metric in ("OrderCommandsRejected", "FulfillmentDeadlinesPassed"):
        assert f"SUM({metric}) FROM OrdersMicrosystem" in queries, metric


# What only a replicated stack has (docs/failover.md): the global tables and the standby's replica key, and
# the primary key a standby has not. Each replicated table stands in for a table of a stack in one region
# (Condition SingleRegion), which keeps its alarms under whichever name the stack gives it.
REPLICATION_CONDITIONS = {"ReplicatesTables", "IsStandby", "OwnsItsKey"}


def test_only_what_a_dev_stack_alone_has_goes_without_alarms(cfn, shape, alarms):
    # The resources a Condition may leave out are the stack's own user pool and its token trigger (a dev
    # stack's), and what only a replicated stack has; nothing in operations.yaml names them, so a stack
    # without them deploys it.
    conditional = {
        name for name, res in cfn["Resources"].items() if res.get("Condition") not in (None, "SingleRegion")
    }
    assert conditional - {"AlarmEmailSubscription"} == {
        name
        for name, res in cfn["Resources"].items()
        if res.get("Condition") in {"HasItsOwnUserPool", *REPLICATION_CONDITIONS}
    }
    assert "StaffScopesFunction" in conditional
    assert not conditional & set(shape.resources)
    named = json.dumps(list(alarms.values()))
    # a replicated table is named only under its own condition, in the anchor that picks a table's name
    unconditioned = {name for name in conditional if not name.endswith("Replicas")}
    assert not any(f'"{name}"' in named for name in unconditioned)


def test_every_alarm_notifies_the_alarm_topic(cfn, alarms):
    assert cfn["Resources"][TOPIC]["Type"] == "AWS::SNS::Topic"
    assert len(alarms) >= 40
    for name, alarm in alarms.items():
        assert {"Ref": TOPIC} in alarm.get("AlarmActions", []), f"{name} notifies nobody"
        assert {"Ref": TOPIC} in alarm.get("OKActions", []), f"{name} never says it recovered"


def test_the_alarm_email_is_subscribed_only_when_given(cfn):
    subscription = cfn["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": TOPIC}


def test_one_dashboard_shows_the_order_flow_and_every_alarm(operations, shape, alarms):
    dashboards = [r for r in operations.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    assert len(dashboards) == 1
    body = dashboards[0]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body.replace("${", "{"))["widgets"]
    shown = [arn for w in widgets if w["type"] == "alarm" for arn in w["properties"]["alarms"]]
    assert len(shown) == len(alarms), f"every alarm on the dashboard; {HINT}"
    assert all(len(w["properties"]["alarms"]) <= ALARMS_PER_WIDGET for w in widgets if w["type"] == "alarm")
    for resource in [*shape.functions, *shape.tables, *shape.streams, *shape.apis]:
        assert f"${{{resource}}}" in body, f"the dashboard does not show {resource}; {HINT}"
    for queue in shape.queues:
        assert f"${{{queue}.QueueName}}" in body, f"the dashboard does not show {queue}; {HINT}"


def test_the_http_api_writes_json_access_logs(cfn, shape):
    stages = [r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert stages
    for stage in stages:
        settings = stage.get("AccessLogSettings")
        assert settings, f"the stage of {target_of(stage['ApiId'])} has no access logs"
        group = target_of(settings["DestinationArn"])
        assert cfn["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
        assert settings["Format"].startswith("{"), "access logs in JSON"
        assert '"requestId":"$context.requestId"' in settings["Format"]


def test_the_operations_stack_is_what_make_alarms_generates():
    operations = generate(TEMPLATE)
    assert current_section(TEMPLATE.read_text()) == operations.section, HINT
    assert operations_path(TEMPLATE).read_text() == operations.nested, HINT
