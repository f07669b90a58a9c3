"""`python -m ops --stack NAME token`: users of a dev stack's own user pool and their access tokens, against
moto's Cognito (a pool, its app client and its staff groups as template.yaml makes them; moto's CloudFormation
does not create Cognito resources, so the stack's physical ids are handed over as `--stack` would find them).
moto runs no Lambda trigger: the staff scopes the trigger adds are functions/staff_scopes' test; here, the
groups that grant them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import jwt
import pytest

from ops.cli import main
from ops.target import Target, TargetError
from ops.template import StackShape, load_sam
from ops.tokens import sign_in
from tests.support.aws import resource

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "eu-west-1"


@pytest.fixture
def dev_stack() -> Iterator[Target]:
    from tests.support.aws import moto

    with moto():
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool = cognito.create_user_pool(PoolName="dev", UserPoolTier="ESSENTIALS")["UserPool"]["Id"]
        client = resource("UserPoolClient")["Properties"]
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool, ClientName=client["ClientName"], ExplicitAuthFlows=client["ExplicitAuthFlows"]
        )["UserPoolClient"]["ClientId"]
        for group in ("WarehouseStaffGroup", "PrivacyStaffGroup"):
            cognito.create_group(UserPoolId=pool, GroupName=resource(group)["Properties"]["GroupName"])
        yield Target(
            "orders-dev",
            StackShape.of({"Resources": {}}),
            {"UserPool": pool, "UserPoolClient": client_id},
            REGION,
            False,
            boto3.session.Session(region_name=REGION),
        )


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


class TestSignIn:
    def test_a_customer_is_made_and_gets_an_access_token_whose_sub_is_theirs(self, dev_stack):
        # WHEN a customer's token is asked for
        signed = sign_in(dev_stack, "alice")

        # THEN the user exists, and the access token names them and the app client (the API's audience)
        user = boto3.client("cognito-idp").admin_get_user(
            UserPoolId=dev_stack.physical("UserPool"), Username="alice"
        )
        sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
        token = claims(signed.access_token)
        assert (signed.sub, token["sub"]) == (sub, sub)
        assert token["token_use"] == "access"
        assert token["client_id"] == dev_stack.physical("UserPoolClient")
        assert signed.scopes == ()
        assert "cognito:groups" not in token
        assert user["UserStatus"] == "CONFIRMED"

    def test_staff_are_put_in_the_group_of_each_scope_and_taken_out_of_the_others(self, dev_stack):
        cognito = boto3.client("cognito-idp")
        pool = dev_stack.physical("UserPool")

        def groups() -> set[str]:
            listed = cognito.admin_list_groups_for_user(UserPoolId=pool, Username="wh-1")["Groups"]
            return {group["GroupName"] for group in listed}

        # GIVEN a staff member with both scopes
        both = sign_in(dev_stack, "wh-1", ["orders/warehouse", "orders/privacy"])
        assert both.scopes == ("orders/privacy", "orders/warehouse")
        assert groups() == {"orders/warehouse", "orders/privacy"}
        assert set(claims(both.access_token)["cognito:groups"]) == {"orders/warehouse", "orders/privacy"}

        # WHEN the same user asks for the warehouse scope alone
        one = sign_in(dev_stack, "wh-1", ["orders/warehouse"])

        # THEN they are the same user, now in that group only
        assert one.sub == both.sub
        assert groups() == {"orders/warehouse"}

    def test_a_scope_no_group_grants_is_refused_before_anything_changes(self, dev_stack):
        with pytest.raises(TargetError, match=r"no staff group for orders/admin.*orders/privacy"):
            sign_in(dev_stack, "mallory", ["orders/admin"])
        users = boto3.client("cognito-idp").list_users(UserPoolId=dev_stack.physical("UserPool"))
        assert users["Users"] == []

    def test_a_stack_given_another_identity_provider_has_no_users_to_sign_in(self, dev_stack):
        prod = Target("orders-prod", dev_stack.shape, {}, REGION, False, dev_stack.session)
        with pytest.raises(TargetError, match="deployed with a JwtIssuer"):
            sign_in(prod, "alice")


def test_the_groups_are_the_scopes_the_trigger_grants_and_the_resource_server_offers():
    # One list of staff scopes, three places: the resource server's, the groups' names, the trigger's.
    from ops.template import TEMPLATE

    resources = load_sam(TEMPLATE)["Resources"]
    server = resources["UserPoolApi"]["Properties"]
    offered = {f"{server['Identifier']}/{scope['ScopeName']}" for scope in server["Scopes"]}
    groups = {
        r["Properties"]["GroupName"] for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"
    }
    granted = set(
        resources["StaffScopesFunction"]["Properties"]["Environment"]["Variables"]["STAFF_SCOPES"].split()
    )
    assert offered == groups == granted == {"orders/warehouse", "orders/privacy"}


def test_locally_the_command_says_where_tokens_come_from(capsys):
    assert main(["token", "--user", "alice"]) == 2
    assert "make token" in capsys.readouterr().err
