"""The stack's asynchronous sources: SNS subscriptions, EventBridge rules and schedules whose target is one of
its functions.

`AWS::SNS::Subscription` with protocol lambda (SAM's SNS event) and `AWS::Events::Rule` targets that are
functions (EventBridgeRule, and Schedule, which SAM translates to a rule with a ScheduleExpression) become, in
moto, deliveries to a queue of the local cloud's own (`Delivery`), so that moto's own SNS filter policies and
EventBridge patterns decide what is delivered; a poller invokes the function from there asynchronously.
`AWS::Scheduler::Schedule` (ScheduleV2) and scheduled rules are fired by the local cloud's scheduler onto the
same kind of queue.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.motoserver import resource_name
from localcloud.pollers.deliveries import (
    AsyncDeliveryPoller,
    async_failure_record,
    eventbridge_input,
    sns_record,
)
from localcloud.schedules import Schedule
from localcloud.template import ACCOUNT_ID

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.pollers import Poller
    from localcloud.stack import Stack
    from localcloud.triggers import Triggers
    from localcloud.workers import Invocation

__all__ = ["AsyncSources", "Delivery", "plan_deliveries", "route_deliveries_through_queues"]


@dataclass(frozen=True)
class Delivery:
    """An asynchronous source of one function, delivered through a queue of the local cloud's own."""

    key: str  # unique and stable: the source's logical id (and target id)
    kind: str  # sns, rule (EventBridge pattern), schedule (a scheduled rule) or scheduler (ScheduleV2)
    source: str  # the logical id of the subscription, rule or schedule
    function_arn: str
    target: dict[str, Any] = field(default_factory=dict)  # the rule's target: Input, InputPath, ...
    expression: str | None = None  # for schedules
    timezone: str = "UTC"
    name: str = ""

    @property
    def queue_logical_id(self) -> str:
        return "LocalCloudDelivery" + re.sub(r"[^A-Za-z0-9]", "", self.key)

    @property
    def queue_name(self) -> str:
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:8]
        return f"localcloud-{re.sub(r'[^A-Za-z0-9-]', '-', self.key)[:60]}-{digest}"

    @property
    def trigger(self) -> str:
        return f"{self.kind} {self.name or self.source}"


def _function_arn(value: Any) -> str | None:
    text = str(value)
    return text if ":function:" in text and text.startswith("arn:") else None


def plan_deliveries(stack: Stack) -> list[Delivery]:
    """Every asynchronous source of the stack whose target is one of its functions."""
    deliveries = []
    for logical_id in stack.of_type("AWS::SNS::Subscription"):
        properties = stack.properties(logical_id)
        arn = _function_arn(properties.get("Endpoint"))
        if str(properties.get("Protocol", "")).lower() == "lambda" and arn:
            topic = resource_name(str(properties.get("TopicArn", "")))
            deliveries.append(
                Delivery(logical_id, "sns", logical_id, arn, dict(properties), name=f"{topic} ({logical_id})")
            )
    for logical_id in stack.of_type("AWS::Events::Rule"):
        properties = stack.properties(logical_id)
        if properties.get("State", "ENABLED") != "ENABLED":
            continue
        expression = properties.get("ScheduleExpression")
        for target in properties.get("Targets", []):
            arn = _function_arn(target.get("Arn"))
            if arn is None:
                continue
            key = f"{logical_id}/{target.get('Id', 'target')}"
            kind = "schedule" if expression else "rule"
            name = str(properties.get("Name") or logical_id)
            deliveries.append(Delivery(key, kind, logical_id, arn, target, expression, name=name))
    for logical_id in stack.of_type("AWS::Scheduler::Schedule"):
        properties = stack.properties(logical_id)
        target = properties.get("Target", {})
        arn = _function_arn(target.get("Arn"))
        if arn is None or properties.get("State", "ENABLED") != "ENABLED":
            continue
        deliveries.append(
            Delivery(
                logical_id,
                "scheduler",
                logical_id,
                arn,
                target,
                str(properties["ScheduleExpression"]),
                str(properties.get("ScheduleExpressionTimezone", "UTC")),
                name=str(properties.get("Name") or logical_id),
            )
        )
    return deliveries


def route_deliveries_through_queues(moto_template: dict[str, Any], deliveries: list[Delivery]) -> None:
    """Give moto a queue per delivery and point the rule targets at it, not at Lambda. (SNS subscriptions
    moto's CloudFormation cannot create: `Triggers.subscribe` makes them through the API.)"""
    resources = moto_template["Resources"]
    for resource in resources.values():
        bus = (
            resource.get("Properties", {}).get("EventBusName")
            if resource.get("Type") == "AWS::Events::Rule"
            else None
        )
        target = resources.get(bus.get("Ref", "")) if isinstance(bus, dict) else None
        if target is not None and "Name" in target.get("Properties", {}):
            # moto resolves a Ref to an event bus into its model object, not its name; give it the name.
            resource["Properties"]["EventBusName"] = target["Properties"]["Name"]
    for delivery in deliveries:
        resources[delivery.queue_logical_id] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": delivery.queue_name},
        }
        queue_arn = {"Fn::GetAtt": [delivery.queue_logical_id, "Arn"]}
        source = resources.get(delivery.source)
        if source is None:
            continue
        properties = source.setdefault("Properties", {})
        if delivery.kind == "sns":
            del resources[delivery.source]
        elif delivery.kind in ("rule", "schedule"):
            target_id = delivery.target.get("Id")
            targets = []
            for target in properties.get("Targets", []):
                if target.get("Id") != target_id:
                    targets.append(target)
                elif delivery.kind == "rule":
                    # Input and InputPath are applied when delivering; InputTransformer moto applies itself.
                    kept = {k: v for k, v in target.items() if k not in ("Input", "InputPath")}
                    targets.append({**kept, "Arn": queue_arn})
                # a scheduled rule's function target is left out: the local cloud's scheduler fires it
            properties["Targets"] = targets
            if not targets:
                del properties["Targets"]


class AsyncSources:
    """The pollers of the delivery queues, the SNS subscriptions that feed them, and the schedules."""

    def __init__(self, stack: Stack, triggers: Triggers, deliveries: list[Delivery]) -> None:
        self._stack = stack
        self._triggers = triggers
        self.deliveries = deliveries

    def subscribe(self) -> dict[str, str]:
        """Subscribe each SNS delivery's queue to its topic, with the subscription's filter policy; the
        subscription ARNs by logical id. SNS answers an existing subscription with its ARN (resumed state)."""
        sns = self._triggers.client("sns")
        arns = {}
        for delivery in self.deliveries:
            if delivery.kind != "sns":
                continue
            properties = self._stack.properties(delivery.source)  # now with the topic's real ARN
            attributes = {}
            for name in ("FilterPolicy", "FilterPolicyScope"):
                if name in properties:
                    value = properties[name]
                    attributes[name] = value if isinstance(value, str) else json.dumps(value)
            queue_arn = self._stack.get_att(delivery.queue_logical_id, "Arn")
            arns[delivery.source] = sns.subscribe(
                TopicArn=properties["TopicArn"],
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
        return arns

    def delivery_pollers(self) -> list[Poller]:
        pollers: list[Poller] = []
        invoke_configs = self._invoke_configs()
        subscriptions = self.subscribe()
        for delivery in self.deliveries:
            queue_url = self._stack.ref(delivery.queue_logical_id)
            context = self._triggers.context(delivery.function_arn, resource_name(queue_url))
            if context is None:
                continue
            if delivery.kind == "sns":
                shape = sns_record(subscriptions[delivery.source])
            elif delivery.kind == "scheduler":
                shape = json.loads
            else:
                shape = eventbridge_input(delivery.target)
            config = invoke_configs.get(delivery.function_arn, {})
            pollers.append(
                AsyncDeliveryPoller(
                    context,
                    queue_url,
                    delivery.trigger,
                    delivery.key,
                    shape,
                    max_retries=int(config.get("MaximumRetryAttempts", 2)),
                    on_failure=self._async_failure(delivery.function_arn, config),
                )
            )
        return pollers

    def _invoke_configs(self) -> dict[str, dict[str, Any]]:
        """AWS::Lambda::EventInvokeConfig by function ARN."""
        configs = {}
        for logical_id in self._stack.of_type("AWS::Lambda::EventInvokeConfig"):
            properties = self._stack.properties(logical_id)
            function = str(properties.get("FunctionName"))
            for spec in self._triggers.functions.specs.values():
                if function in (spec.name, spec.arn):
                    configs[spec.arn] = properties
        return configs

    def _async_failure(
        self, function_arn: str, config: dict[str, Any]
    ) -> Callable[[Any, Invocation, int], None] | None:
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            send = self._triggers.sender(str(destination))
            return lambda event, invocation, attempts: send(
                async_failure_record(function_arn, event, invocation, attempts)
            )
        specs = self._triggers.functions.specs.values()
        dead_letter = next((spec.dead_letter_arn for spec in specs if spec.arn == function_arn), None)
        if dead_letter:
            send_raw = self._triggers.sender(dead_letter)

            def to_dead_letters(event: Any, invocation: Invocation, attempts: int) -> None:
                error = invocation.error or {}
                send_raw(
                    event,
                    {
                        "RequestID": invocation.request_id,
                        "ErrorCode": "200",
                        "ErrorMessage": str(error.get("errorMessage", ""))[:256],
                    },
                )

            return to_dead_letters
        return None

    def schedules(self) -> list[Schedule]:
        schedules = []
        for delivery in self.deliveries:
            if delivery.expression is None:
                continue
            schedules.append(
                Schedule(delivery.name, delivery.expression, self._scheduled(delivery), delivery.timezone)
            )
        return schedules

    def _scheduled(self, delivery: Delivery) -> Callable[[datetime], None]:
        sqs = self._triggers.client("sqs")
        queue_url = self._stack.ref(delivery.queue_logical_id)
        region = self._stack.region

        def fire(when: datetime) -> None:
            if delivery.kind == "scheduler":
                body = str(delivery.target.get("Input") or "{}")
            else:
                event = {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": ACCOUNT_ID,
                    "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": region,
                    "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{delivery.name}"],
                    "detail": {},
                }
                body = json.dumps(event)
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)

        return fire
