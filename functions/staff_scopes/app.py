"""Staff scopes: the stack's own user pool (a dev stack, template.yaml's HasItsOwnUserPool) calls this before
it issues tokens (a pre token generation trigger, event version 2), and it adds to the access token the scope
of each staff group the user is in: a user in the group `orders/warehouse` gets the scope `orders/warehouse`,
which the HTTP API's staff routes require. Cognito puts a resource server's scopes in an access token only
through its OAuth endpoints; a user who signs in with the user pool API (what `python -m ops token` does)
gets them from here. Customers are in no group and get no scope. It calls nothing: it reads the event and
answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    PreTokenGenerationV2TriggerEvent,
)

from eventcore.lambdas.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
# The scopes a group may grant: the resource server's, named in the template once more. A group of any other
# name grants nothing, so a group made by hand cannot mint a scope the API does not know.
STAFF_SCOPES = frozenset(Wiring().env["STAFF_SCOPES"].split())


def scopes_of(groups: list[str]) -> list[str]:
    """The staff scopes a user's groups grant, in a stable order."""
    return sorted(STAFF_SCOPES.intersection(groups))


@logger.inject_lambda_context
@event_source(data_class=PreTokenGenerationV2TriggerEvent)
def lambda_handler(event: PreTokenGenerationV2TriggerEvent, context: LambdaContext) -> dict[str, Any]:
    scopes = scopes_of(event.request.group_configuration.groups_to_override)
    if scopes:
        event.response.claims_scope_override_details.access_token_generation.scopes_to_add = scopes
    logger.info("token issued", trigger=event.trigger_source, staff_scopes=scopes)
    return event.raw_event
