"""What the local cloud does with event source mapping properties it does not emulate: the ones whose
absence changes nothing a function could rely on (ParallelizationFactor, ScalingConfig) are ignored
knowingly and silently; any other is named once at start, so nobody takes the local run for Lambda's."""

from __future__ import annotations

from typing import Any

from localcloud.template import load_template, parameter_values
from localcloud.translate import translate
from localcloud.triggers import mapping_notes
from support import SAMPLE


def sample_mappings() -> dict[str, dict[str, Any]]:
    path = SAMPLE / "template.yaml"
    template = load_template(path)
    cfn = translate(template, parameter_values(template, path, {}, "eu-west-1"), SAMPLE).cfn
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in cfn["Resources"].items()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
    }


def test_parallelization_and_maximum_concurrency_are_ignored_without_a_word():
    mappings = sample_mappings()
    properties = {name for props in mappings.values() for name in props}
    assert {"ParallelizationFactor", "ScalingConfig"} <= properties  # the sample sets both
    assert [note for logical_id, props in mappings.items() for note in mapping_notes(logical_id, props)] == []


def test_a_property_that_would_change_what_the_function_sees_is_named():
    properties = {
        "EventSourceArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
        "FunctionName": "f",
        "TumblingWindowInSeconds": 60,
        "ParallelizationFactor": 10,
    }
    assert mapping_notes("Window", properties) == [
        "[localcloud] Window: TumblingWindowInSeconds is not emulated; ignored"
    ]
