"""The dev stack's token trigger (functions/staff_scopes): a staff group's scope goes into the user's access
token, nothing else does, and a customer's token is left as Cognito made it. The event is a pre token
generation trigger's, version 2, as the user pool sends it (events/cognito_pre_token_generation_staff.json).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.aws import resource
from tests.support.lambdas import LambdaContext, load_function, sample_event


@pytest.fixture
def trigger(monkeypatch: pytest.MonkeyPatch) -> Any:
    variables = resource("StaffScopesFunction")["Properties"]["Environment"]["Variables"]
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_function("staff_scopes")


def with_groups(*groups: str) -> dict[str, Any]:
    event = copy.deepcopy(sample_event("cognito_pre_token_generation_staff.json"))
    event["request"]["groupConfiguration"]["groupsToOverride"] = list(groups)
    return event


def scopes_added(answer: dict[str, Any]) -> list[str] | None:
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    return None if details is None else details["accessTokenGeneration"]["scopesToAdd"]


def test_a_warehouse_staff_member_gets_the_warehouse_scope(trigger):
    answer = trigger.lambda_handler(with_groups("orders/warehouse"), LambdaContext())
    assert scopes_added(answer) == ["orders/warehouse"]
    assert answer["request"] == with_groups("orders/warehouse")["request"]  # the rest as Cognito sent it


def test_staff_in_both_groups_get_both_scopes(trigger):
    answer = trigger.lambda_handler(with_groups("orders/warehouse", "orders/privacy"), LambdaContext())
    assert scopes_added(answer) == ["orders/privacy", "orders/warehouse"]


def test_a_customer_or_a_group_made_by_hand_gets_no_scope(trigger):
    for groups in ((), ("admins",), ("orders/admin",)):
        answer = trigger.lambda_handler(with_groups(*groups), LambdaContext())
        assert scopes_added(answer) is None, groups
