"""The stack's shape, read from template.yaml the way CloudFormation sees it: the SAM template translated
offline to plain CloudFormation, so every function, event source mapping, queue and table is a resource
with its logical id. Both the alarm generator and the operator's commands read the system through this:
which queues are dead-letter queues and of what, which tables are event logs, which functions consume
which streams. Kept apart from `localcloud` (a dev runtime with its own life) on purpose."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
REGION = "eu-west-1"
SSM_PARAMETER_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"

Resources = dict[str, dict[str, Any]]


class TemplateError(Exception):
    """The template cannot be read or translated; the message says why."""


def load_sam(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as plain dicts, short forms (`!Ref`, `!Sub`) in their long `Fn::` form."""
    from samcli.yamlhelper import yaml_parse

    try:
        template = yaml_parse(path.read_text())
    except FileNotFoundError as exc:
        raise TemplateError(f"no template at {path}") from exc
    return _plain(template)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def default_parameters(sam: dict[str, Any]) -> dict[str, Any]:
    """Every parameter's default; SSM-typed ones get a placeholder (nothing is looked up offline)."""
    values: dict[str, Any] = {}
    for name, spec in sam.get("Parameters", {}).items():
        if spec.get("Type", "").startswith(SSM_PARAMETER_TYPE_PREFIX):
            values[name] = f"arn:aws:lambda:{REGION}:123456789012:layer:placeholder-{name}:1"
        elif "Default" in spec:
            values[name] = spec["Default"]
    return values


def translate(sam: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SAM template as the CloudFormation template it deploys as, translated offline (code folders
    replaced by fake S3 URIs and managed policies named without asking IAM, as `sam validate` does)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(sam)
    for resource in sam.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://offline/{properties[key].strip('/')}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    try:
        return translator.translate(
            sam,
            parameter_values=dict(parameters if parameters is not None else default_parameters(sam)),
            get_managed_policy_map=lambda: _AnyManagedPolicy(),
        )
    except Exception as exc:
        causes = "; ".join(str(cause) for cause in getattr(exc, "causes", [])) or str(exc)
        raise TemplateError(f"the SAM translator rejected the template: {causes}") from exc
    finally:
        # Its metrics go to a no-op publisher; publishing empties the cache, so nothing warns at exit.
        translator.metrics.publish()


class _AnyManagedPolicy(dict[str, str]):
    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def __contains__(self, name: object) -> bool:
        return True


def target_of(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` points at (None for anything else). Through an `Fn::If`, the
    last branch: the resource a stack in one region has (a replicated stack's tables, docs/failover.md)."""
    if isinstance(value, dict):
        if "Fn::If" in value and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
            return target_of(value["Fn::If"][2])
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target.split(".")[0] if isinstance(target, str) else str(target[0])
    return None


@dataclass(frozen=True, slots=True)
class Mapping:
    """An event source mapping: which function reads which source, and where its failures go."""

    logical_id: str
    function: str
    source: str  # logical id of the table (its stream), the Kinesis stream or the queue
    source_kind: str  # "dynamodb", "kinesis" or "sqs"
    on_failure: str | None  # logical id of the on-failure destination (a queue or a bucket), for streams


@dataclass(frozen=True, slots=True)
class DeadLetterQueue:
    """A queue that holds parked messages, and what parks them there."""

    logical_id: str
    # "redrive": a queue's redrive policy; "stream-failure": an event source mapping's OnFailure (a record
    # pointing at the stream); "failed-batches": the notices of a bucket where mappings park whole batches
    kind: str
    source_queue: str | None = None  # redrive: the queue whose messages are parked here
    mapping: Mapping | None = None  # stream-failure: the mapping whose failed batches are described here
    bucket: str | None = None  # failed-batches: the bucket holding the batches the notices name


@dataclass
class StackShape:
    """What the operator's commands and the alarms need to know of a CloudFormation template."""

    resources: Resources
    parameter_defaults: dict[str, str] = field(default_factory=dict)
    functions: list[str] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    delivery_streams: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, cfn: dict[str, Any]) -> StackShape:
        resources: Resources = cfn.get("Resources", {})
        defaults = {
            name: str(spec["Default"])
            for name, spec in cfn.get("Parameters", {}).items()
            if "Default" in spec
        }
        shape = cls(resources, defaults)
        by_type: dict[str, list[str]] = {}
        for logical_id, resource in resources.items():
            by_type.setdefault(resource.get("Type", ""), []).append(logical_id)
        shape.functions = by_type.get("AWS::Lambda::Function", [])
        shape.queues = by_type.get("AWS::SQS::Queue", [])
        shape.tables = by_type.get("AWS::DynamoDB::Table", [])
        shape.streams = by_type.get("AWS::Kinesis::Stream", [])
        shape.delivery_streams = by_type.get("AWS::KinesisFirehose::DeliveryStream", [])
        shape.apis = [
            api
            for api in by_type.get("AWS::ApiGatewayV2::Api", [])
            if resources[api].get("Properties", {}).get("ProtocolType", "HTTP") == "HTTP"
        ]
        kinds = {
            "AWS::DynamoDB::Table": "dynamodb",
            "AWS::Kinesis::Stream": "kinesis",
            "AWS::SQS::Queue": "sqs",
        }
        for logical_id in by_type.get("AWS::Lambda::EventSourceMapping", []):
            properties = resources[logical_id].get("Properties", {})
            source = target_of(properties.get("EventSourceArn"))
            function = target_of(properties.get("FunctionName"))
            if source is None or function is None or source not in resources:
                continue
            destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            shape.mappings.append(
                Mapping(
                    logical_id,
                    function,
                    source,
                    kinds.get(resources[source]["Type"], "other"),
                    target_of(destination),
                )
            )
        return shape

    def dead_letter_queues(self) -> list[DeadLetterQueue]:
        found: dict[str, DeadLetterQueue] = {}
        for queue in self.queues:
            policy = self.resources[queue].get("Properties", {}).get("RedrivePolicy") or {}
            target = target_of(policy.get("deadLetterTargetArn"))
            if target in self.resources:
                found[target] = DeadLetterQueue(target, "redrive", source_queue=queue)
        for mapping in self.mappings:
            destination = self.resources.get(mapping.on_failure or "", {})
            if destination.get("Type") == "AWS::S3::Bucket":
                assert mapping.on_failure is not None
                for notices in self.bucket_notices(mapping.on_failure):
                    found.setdefault(
                        notices, DeadLetterQueue(notices, "failed-batches", bucket=mapping.on_failure)
                    )
            elif mapping.on_failure in self.resources and mapping.on_failure not in found:
                found[mapping.on_failure] = DeadLetterQueue(
                    mapping.on_failure, "stream-failure", mapping=mapping
                )
        return [found[queue] for queue in self.queues if queue in found]

    def bucket_notices(self, bucket: str) -> list[str]:
        """The queues a bucket notifies of new objects."""
        configuration = self.resources[bucket].get("Properties", {}).get("NotificationConfiguration", {})
        targets = (target_of(entry.get("Queue")) for entry in configuration.get("QueueConfigurations", []))
        return [queue for queue in targets if queue in self.resources]

    def mappings_parking_in(self, bucket: str) -> list[Mapping]:
        return [mapping for mapping in self.mappings if mapping.on_failure == bucket]

    def event_logs(self) -> list[str]:
        """Tables keyed (stream S, version N): the event logs, one per bounded context."""
        logs = []
        for table in self.tables:
            schema = {
                key["AttributeName"]: key["KeyType"]
                for key in self.resources[table].get("Properties", {}).get("KeySchema", [])
            }
            if schema == {"stream": "HASH", "version": "RANGE"}:
                logs.append(table)
        return logs

    def stream_consumers(self) -> list[str]:
        """Functions with a stream (DynamoDB or Kinesis) event source mapping, in template order."""
        consumers = {m.function for m in self.mappings if m.source_kind in ("dynamodb", "kinesis")}
        return [function for function in self.functions if function in consumers]

    def api_stage(self, api: str) -> str:
        for resource in self.resources.values():
            properties = resource.get("Properties", {})
            if (
                resource.get("Type") == "AWS::ApiGatewayV2::Stage"
                and target_of(properties.get("ApiId")) == api
            ):
                return str(properties.get("StageName", "$default"))
        return "$default"


def shape_of_template(path: Path = TEMPLATE) -> StackShape:
    """The shape of the template at `path`, translated once per version of the file."""
    return _shape(str(path.resolve()), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _shape(path: str, version: int) -> StackShape:
    return StackShape.of(translate(load_sam(Path(path))))
