"""The order events payments reacts to, as payments reads them: its own view of the orders' published
contract, with only the fields it needs and every schema version it understands. Payments imports nothing
from the orders domain; a new schema version of these events must be added here before it can be handled
(until then its records fail and are parked, never guessed at)."""

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from microsystem.messages import MalformedMessageError, UnexpectedEventError


class _Inbound(BaseModel):
    # Fields payments does not use are ignored, so orders may add fields without a new schema version.
    model_config = ConfigDict(frozen=True, extra="ignore")


class OrderPlaced(_Inbound):
    """OrderCreated, schema versions 1 and 2 (v2 renamed `country`, which payments does not read)."""

    order_id: str
    customer_id: str
    total: int
    currency: str
    placed_at: AwareDatetime


class OrderWithdrawn(_Inbound):
    """OrderCancelled, schema version 1."""

    order_id: str
    reason: str
    cancelled_at: AwareDatetime


# (event type, schema versions) -> the model that reads them.
HANDLED: dict[str, tuple[frozenset[int], type[_Inbound]]] = {
    "OrderCreated": (frozenset({1, 2}), OrderPlaced),
    "OrderCancelled": (frozenset({1}), OrderWithdrawn),
}
# Order events payments has no business with; the event source mapping's filter keeps them away already.
IGNORED = frozenset({"OrderConfirmed", "OrderShipped"})


def read_order_event(event_type: str, schema_version: int, data: dict[str, Any]) -> _Inbound | None:
    """The event as payments understands it; None for events payments ignores."""
    if event_type in IGNORED:
        return None
    if event_type not in HANDLED:
        raise UnexpectedEventError(f"unknown order event type {event_type!r}")
    versions, model = HANDLED[event_type]
    if schema_version not in versions:
        raise UnexpectedEventError(
            f"{event_type} schema version {schema_version} is not supported (supported: {sorted(versions)})"
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise MalformedMessageError(f"{event_type} v{schema_version} data is invalid: {error}") from error
