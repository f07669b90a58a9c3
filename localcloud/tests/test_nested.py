"""Nested applications with a local template (`AWS::Serverless::Application` with `Location: a path`):
translated like the parent and merged into it, their parameters given by the parent, their outputs read by the
parent with `!GetAtt App.Outputs.Name`. On samples/nested in a running cloud (a dashboard, a skipped alarm, a
queue, and a function the parent's table triggers), and on small templates translated offline for the
renaming rules and the refusals."""

from __future__ import annotations

import io
import json
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from localcloud.template import ACCOUNT_ID, TemplateError, load_template, parameter_values
from localcloud.translate import translate
from support import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

    from localcloud.translate import Translation

TEMPLATE = Path(__file__).parent / "samples" / "nested" / "template.yaml"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(TEMPLATE, port=0, moto_port=0, output=io.StringIO(), gateway=False) as running:
        yield running


class TestASampleWithNestedApplications:
    def test_the_nested_resources_exist_with_what_the_parent_passed(self, cloud: LocalCloud) -> None:
        cloudwatch = cloud.client("cloudwatch")
        body = json.loads(cloudwatch.get_dashboard(DashboardName="sample-test-operations")["DashboardBody"])
        table = cloud.physical_id("Orders")
        markdown = body["widgets"][0]["properties"]["markdown"]
        assert markdown == f"table {table}, watching orders,payments, in localcloud-Operations"
        assert cloud.physical_id("OperationsAuditQueue").endswith("/sample-test-audit")

    def test_what_moto_cannot_create_is_skipped_there_too(self, cloud: LocalCloud) -> None:
        assert cloud.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
        assert "OperationsOrdersThrottlesAlarm" in cloud.stack.resources  # translated, not created

    def test_the_parent_reads_the_nested_outputs(self, cloud: LocalCloud) -> None:
        queue_url = cloud.physical_id("OperationsAuditQueue")
        assert cloud.attribute("Operations", "Outputs.AuditQueueUrl") == queue_url
        stack_id = f"arn:aws:cloudformation:eu-west-1:{ACCOUNT_ID}:stack/localcloud-Operations/local"
        assert cloud.invoke("ReaderFunction", {}).payload == {
            "AUDIT_QUEUE_URL": queue_url,
            "DASHBOARD": "dashboard sample-test-operations",
            "OPERATIONS_STACK": stack_id,
        }

    def test_a_nested_function_is_triggered_by_the_parents_table(self, cloud: LocalCloud) -> None:
        cloud.client("dynamodb").put_item(TableName=cloud.physical_id("Orders"), Item={"id": {"S": "o-1"}})
        sqs, queue = cloud.client("sqs"), cloud.physical_id("OperationsAuditQueue")
        messages = wait_until(lambda: sqs.receive_message(QueueUrl=queue).get("Messages"), timeout=30)
        assert json.loads(messages[0]["Body"]) == {"id": "o-1", "stack": "localcloud-Operations"}

    def test_an_application_whose_condition_is_false_creates_nothing(self, cloud: LocalCloud) -> None:
        assert "ExtrasQueue" not in cloud.stack.resources
        assert "ExtrasQueue" not in cloud.stack.physical_ids


def translated(folder: Path, parent: str, **nested: str) -> Translation:
    """`parent` as template.yaml in `folder`, each of `nested` as NAME.yaml beside it, translated."""
    for name, text in {"template": parent, **nested}.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(text))
    path = folder / "template.yaml"
    template = load_template(path)
    return translate(template, parameter_values(template, path, region="eu-west-1"), folder)


PARENT = """\
    Parameters:
      Stage: {Type: String, Default: test}
    Conditions:
      IsTest: !Equals [!Ref Stage, test]
    Resources:
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
          KeySchema: [{AttributeName: id, KeyType: HASH}]
      App:
        Type: AWS::CloudFormation::Stack
        Condition: IsTest
        DependsOn: Table
        Properties:
          TemplateURL: child.yaml
          Parameters:
            TableName: !Ref Table
            Names: "a, b"
      Waiter:
        Type: AWS::SQS::Queue
        DependsOn: App
        Properties:
          QueueName: !Sub "${App.Outputs.Name}-waiter"
          Tags: [{Key: inner, Value: !GetAtt App.Outputs.InnerQueue}]
"""

CHILD = """\
    Parameters:
      TableName: {Type: String}
      Names: {Type: CommaDelimitedList}
      Suffix: {Type: String, Default: q}
    Conditions:
      HasSuffix: !Not [!Equals [!Ref Suffix, ""]]
    Mappings:
      Sizes:
        test: {visibility: 30}
    Resources:
      Queue:
        Type: AWS::SQS::Queue
        Condition: HasSuffix
        Properties:
          QueueName: !Sub ["${TableName}-${Suffix}-${Extra}", {Extra: !Select [1, !Ref Names]}]
          VisibilityTimeout: !FindInMap [Sizes, test, visibility]
          Tags:
            - {Key: stack, Value: !Ref "AWS::StackName"}
            - {Key: arn, Value: !GetAtt Queue.Arn}
            - {Key: choice, Value: !If [HasSuffix, with, without]}
            - {Key: literal, Value: !Sub "${!NotAReference}"}
      Inner:
        Type: AWS::CloudFormation::Stack
        DependsOn: Queue
        Properties:
          TemplateURL: grandchild.yaml
          Parameters:
            QueueArn: !GetAtt Queue.Arn
    Outputs:
      Name:
        Value: !GetAtt Queue.QueueName
      InnerQueue:
        Value: !GetAtt Inner.Outputs.Url
"""

GRANDCHILD = """\
    Parameters:
      QueueArn: {Type: String}
    Resources:
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          Tags: [{Key: source, Value: !Ref QueueArn}]
    Outputs:
      Url:
        Value: !Ref Queue
"""


class TestMerging:
    def test_references_are_renamed_and_parameters_replaced_by_what_the_parent_passes(
        self, tmp_path: Path
    ) -> None:
        cfn = translated(tmp_path, PARENT, child=CHILD, grandchild=GRANDCHILD).cfn
        resources = cfn["Resources"]
        assert sorted(resources) == ["AppInnerQueue", "AppQueue", "Table", "Waiter"]
        queue = resources["AppQueue"]
        # the application's own Condition holds for its resources, with their own
        assert queue["Condition"] == "AppHasSuffixAndIsTest"
        assert cfn["Conditions"]["AppHasSuffixAndIsTest"] == {
            "Fn::And": [{"Condition": "AppHasSuffix"}, {"Condition": "IsTest"}]
        }
        assert cfn["Conditions"]["AppHasSuffix"] == {"Fn::Not": [{"Fn::Equals": ["q", ""]}]}
        assert queue["DependsOn"] == ["Table"]
        properties = queue["Properties"]
        assert properties["QueueName"] == {
            "Fn::Sub": [
                "${LocalCloudTableName}-${LocalCloudSuffix}-${Extra}",
                {
                    "Extra": {"Fn::Select": [1, ["a", "b"]]},
                    "LocalCloudTableName": {"Ref": "Table"},
                    "LocalCloudSuffix": "q",
                },
            ]
        }
        assert properties["VisibilityTimeout"] == {"Fn::FindInMap": ["AppSizes", "test", "visibility"]}
        assert properties["Tags"] == [
            {"Key": "stack", "Value": "localcloud-App"},
            {"Key": "arn", "Value": {"Fn::GetAtt": ["AppQueue", "Arn"]}},
            {"Key": "choice", "Value": {"Fn::If": ["AppHasSuffix", "with", "without"]}},
            {"Key": "literal", "Value": {"Fn::Sub": "${!NotAReference}"}},
        ]
        # two levels down: the grandchild's parameter is the child's queue, renamed twice
        inner = resources["AppInnerQueue"]
        assert inner["Properties"]["Tags"] == [
            {"Key": "source", "Value": {"Fn::GetAtt": ["AppQueue", "Arn"]}}
        ]
        assert inner["DependsOn"] == ["AppQueue", "Table"]

    def test_the_parent_reads_outputs_through_every_level(self, tmp_path: Path) -> None:
        translation = translated(tmp_path, PARENT, child=CHILD, grandchild=GRANDCHILD)
        waiter = translation.cfn["Resources"]["Waiter"]
        assert waiter["DependsOn"] == ["AppQueue", "AppInnerQueue"]  # every resource of the application
        assert waiter["Properties"]["QueueName"] == {
            "Fn::Sub": [
                "${LocalCloudAppOutputsName}-waiter",
                {"LocalCloudAppOutputsName": {"Fn::GetAtt": ["AppQueue", "QueueName"]}},
            ]
        }
        assert waiter["Properties"]["Tags"] == [{"Key": "inner", "Value": {"Ref": "AppInnerQueue"}}]
        assert sorted(translation.applications) == ["App", "AppInner"]

    @pytest.mark.parametrize(
        ("change", "refusal"),
        [
            (('Names: "a, b"', 'Names: "a, b"\n            Unknown: x'), "has no parameters ['Unknown']"),
            (('            Names: "a, b"\n', ""), "parameter Names of child.yaml has no Default"),
            (("TemplateURL: child.yaml", "TemplateURL: https://example.com/child.yaml"), "runs locally only"),
            (("      Waiter:", "      AppQueue:\n        Type: AWS::SQS::Queue\n      Waiter:"), "clash"),
            (
                ("!GetAtt App.Outputs.InnerQueue", "!GetAtt App.Outputs.Nope"),
                "App has ['InnerQueue', 'Name']",
            ),
        ],
    )
    def test_what_cannot_be_merged_is_refused_with_the_reason(
        self, tmp_path: Path, change: tuple[str, str], refusal: str
    ) -> None:
        old, new = change
        parent = PARENT.replace(old, new)
        assert parent != PARENT
        with pytest.raises(TemplateError, match=re.escape(refusal)):
            translated(tmp_path, parent, child=CHILD, grandchild=GRANDCHILD)

    def test_a_template_that_nests_itself_is_refused(self, tmp_path: Path) -> None:
        looping = "Resources:\n  Again:\n    Type: AWS::CloudFormation::Stack\n"
        looping += "    Properties: {TemplateURL: child.yaml}\n"
        with pytest.raises(TemplateError, match="nests itself"):
            translated(tmp_path, looping, child=looping)

    def test_outputs_are_plain_values_for_the_resolver(self, tmp_path: Path) -> None:
        translation = translated(tmp_path, PARENT, child=CHILD, grandchild=GRANDCHILD)
        outputs: dict[str, Any] = translation.applications["App"].outputs
        assert outputs == {
            "Name": {"Fn::GetAtt": ["AppQueue", "QueueName"]},
            "InnerQueue": {"Ref": "AppInnerQueue"},
        }
