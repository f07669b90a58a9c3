"""The Payment aggregate's events: the facts stored in the payments event log and published on
`payment-events`, a storage and integration contract. Change a stored shape only by bumping the event's
`schema_version` and registering an upcaster below."""

from pydantic import AwareDatetime

from eventcore import Event, EventRegistry


class PaymentRequested(Event):
    """Payment of an order was asked for. `card_token` names the customer's card on file at the provider."""

    payment_id: str
    order_id: str
    customer_id: str
    amount: int
    currency: str
    card_token: str
    requested_at: AwareDatetime


class PaymentAuthorized(Event):
    """The provider authorised the amount; `authorization_id` is the provider's reference for it."""

    payment_id: str
    order_id: str
    amount: int
    currency: str
    authorization_id: str
    authorized_at: AwareDatetime


class PaymentDeclined(Event):
    """The provider refused the payment; nothing was charged."""

    payment_id: str
    order_id: str
    reason: str
    declined_at: AwareDatetime


class PaymentVoided(Event):
    """The payment will never be captured: the order was cancelled. `authorization_id` is the authorisation
    released at the provider, None when the order was cancelled before any authorisation was recorded."""

    payment_id: str
    order_id: str
    reason: str
    authorization_id: str | None
    voided_at: AwareDatetime


PaymentEvent = PaymentRequested | PaymentAuthorized | PaymentDeclined | PaymentVoided

payment_events = EventRegistry([PaymentRequested, PaymentAuthorized, PaymentDeclined, PaymentVoided])
