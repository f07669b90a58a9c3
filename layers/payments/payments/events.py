"""The Payment aggregate's events: the facts stored in the payments event log and published on
`payment-events`, a storage and integration contract. Change a stored shape only by bumping the event's
`schema_version` and registering an upcaster below."""

from pydantic import AwareDatetime

from eventcore import Event, EventRegistry


class PaymentRequested(Event):
    """Payment of an order was asked for. `card_token` is the provider's token of the payment method the order
    names (`pm_...`), or, for an order placed without one, the customer's card on file."""

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


class PaymentCaptured(Event):
    """The provider took `amount` (what shipped) from the authorisation; `capture_id` is its reference. The
    rest of the authorisation, if any, is released by the provider."""

    payment_id: str
    order_id: str
    amount: int
    currency: str
    capture_id: str
    captured_at: AwareDatetime


class PaymentCaptureFailed(Event):
    """The provider refused the capture (the authorisation expired or was released): nothing was taken, and
    a person must collect the payment (an alarm watches PaymentsCaptureFailed)."""

    payment_id: str
    order_id: str
    reason: str
    failed_at: AwareDatetime


class PaymentRefundRequested(Event):
    """A refund of `amount` under `refund_id` (the return it pays back) was accepted: with the refunds before
    it, it stays within the capture. The provider is called after this is recorded."""

    payment_id: str
    order_id: str
    refund_id: str
    amount: int
    currency: str
    requested_at: AwareDatetime


class PaymentRefunded(Event):
    """The provider gave back `amount` under `refund_id`; `provider_refund_id` is its reference."""

    payment_id: str
    order_id: str
    refund_id: str
    amount: int
    currency: str
    provider_refund_id: str
    refunded_at: AwareDatetime


PaymentEvent = (
    PaymentRequested
    | PaymentAuthorized
    | PaymentDeclined
    | PaymentVoided
    | PaymentCaptured
    | PaymentCaptureFailed
    | PaymentRefundRequested
    | PaymentRefunded
)

payment_events = EventRegistry(
    [
        PaymentRequested,
        PaymentAuthorized,
        PaymentDeclined,
        PaymentVoided,
        PaymentCaptured,
        PaymentCaptureFailed,
        PaymentRefundRequested,
        PaymentRefunded,
    ]
)
