"""What can be asked of a payment: imperative commands carrying everything a decision needs, including the
time and the provider's answer, so deciding stays pure."""

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=128)]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequestPayment(_Command):
    payment_id: Id
    order_id: Id
    customer_id: Id
    amount: Annotated[int, Field(gt=0)]
    currency: CurrencyCode
    card_token: Id  # the provider's token of the payment method the order names (never card data)
    at: AwareDatetime


class AuthorizePayment(_Command):
    """Record the provider's authorisation (the provider has already been called)."""

    payment_id: Id
    authorization_id: Id
    at: AwareDatetime


class DeclinePayment(_Command):
    """Record the provider's refusal."""

    payment_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=200)]
    at: AwareDatetime


class VoidPayment(_Command):
    """The compensation: the order was cancelled, so the payment must never be captured. Carries the order id
    because a cancellation can arrive before the request it cancels."""

    payment_id: Id
    order_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=200)]
    at: AwareDatetime


class CapturePayment(_Command):
    """Record the provider's capture of `amount` (the provider has already been called): what shipped."""

    payment_id: Id
    amount: Annotated[int, Field(gt=0)]
    capture_id: Id
    at: AwareDatetime


class FailCapture(_Command):
    """Record the provider's refusal to capture (the authorisation expired, or was released)."""

    payment_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=200)]
    at: AwareDatetime


class RequestRefund(_Command):
    """Give back `amount` of what was captured, under `refund_id` (the return it pays back): refused when it
    would take the refunds above the capture."""

    payment_id: Id
    refund_id: Id
    amount: Annotated[int, Field(gt=0)]
    at: AwareDatetime


class RecordRefund(_Command):
    """Record the provider's refund of the requested `refund_id` (the provider has already been called)."""

    payment_id: Id
    refund_id: Id
    provider_refund_id: Id
    at: AwareDatetime


PaymentCommand = (
    RequestPayment
    | AuthorizePayment
    | DeclinePayment
    | VoidPayment
    | CapturePayment
    | FailCapture
    | RequestRefund
    | RecordRefund
)
