"""Access tokens for a deployed dev stack, as `make token` mints them locally: a user of the stack's own user
pool (template.yaml's UserPool, created when no JwtIssuer is given) is made or brought up to date with
Cognito's admin API, given a new random password nobody sees, put in the staff group of each scope asked
for and in no other, and signed in through the app client (ADMIN_USER_PASSWORD_AUTH). What comes back is
the access token the HTTP API accepts: issued by the pool, `client_id` the app client (its audience), `sub`
the user (a customer's id), and `scope` carrying the staff scopes the pool's token trigger added for the
user's groups (functions/staff_scopes). ID tokens carry no scope, so it is always the access token.

For test users: signing in sets a new password each time. A stack given another identity provider has no
user pool: get tokens from that provider.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ops.target import TargetError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ops.target import Target

__all__ = ["SignedIn", "sign_in"]

POOL, CLIENT = "UserPool", "UserPoolClient"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A user signed in to the stack's own user pool, and the access token they got."""

    username: str
    sub: str  # the customer's id, as the API reads it from the token
    scopes: tuple[str, ...]  # the staff groups the user is in, each a scope the token carries
    access_token: str
    expires_in: int  # seconds


def sign_in(
    target: Target,
    username: str,
    scopes: Sequence[str] = (),
    say: Callable[[str], None] = lambda message: None,
) -> SignedIn:
    """Make `username` a user of the stack's own pool (if it is not), in exactly the staff groups `scopes`
    name, and sign them in: their access token."""
    if POOL not in target.physical_ids or CLIENT not in target.physical_ids:
        raise TargetError(
            f"stack {target.stack_name} has no user pool of its own: it was deployed with a JwtIssuer, so "
            "its tokens come from that identity provider"
        )
    pool, client = target.physical(POOL), target.physical(CLIENT)
    cognito = target.client("cognito-idp")
    staff_groups = _staff_groups(cognito, pool)
    unknown = sorted(set(scopes) - staff_groups)
    if unknown:
        known = ", ".join(sorted(staff_groups))
        raise TargetError(f"no staff group for {', '.join(unknown)} in the user pool; it has {known}")
    try:
        user = cognito.admin_get_user(UserPoolId=pool, Username=username)
    except cognito.exceptions.UserNotFoundException:
        user = cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")["User"]
        say(f"{username}: created in user pool {pool}")
    attributes = user.get("UserAttributes") or user.get("Attributes") or []
    sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
    # A password nobody sees or keeps, new each time: the token is what the caller wants.
    password = _password()
    cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
    current = {
        group["GroupName"]
        for page in cognito.get_paginator("admin_list_groups_for_user").paginate(
            UserPoolId=pool, Username=username
        )
        for group in page["Groups"]
    }
    wanted = set(scopes)
    for group in sorted(wanted - current):
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
    for group in sorted((current & staff_groups) - wanted):
        cognito.admin_remove_user_from_group(UserPoolId=pool, Username=username, GroupName=group)
    result = cognito.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    if "AuthenticationResult" not in result:
        raise TargetError(f"{username} was not signed in: Cognito asks for {result.get('ChallengeName')}")
    tokens = result["AuthenticationResult"]
    return SignedIn(username, sub, tuple(sorted(wanted)), tokens["AccessToken"], int(tokens["ExpiresIn"]))


def _staff_groups(cognito: Any, pool: str) -> set[str]:
    """The pool's groups named `<resource server>/<scope>`: one per staff scope (template.yaml)."""
    return {
        group["GroupName"]
        for page in cognito.get_paginator("list_groups").paginate(UserPoolId=pool)
        for group in page["Groups"]
        if "/" in group["GroupName"]
    }


def _password() -> str:
    """32 random characters with every class the pool's password policy asks for."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "^$*.[]{}()?-!@#%&/,><:;|_~")
    chosen = [secrets.choice(chars) for chars in classes]
    chosen += [secrets.choice("".join(classes)) for _ in range(32 - len(chosen))]
    secrets.SystemRandom().shuffle(chosen)
    return "".join(chosen)
