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
    card_token: Id
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


PaymentCommand = RequestPayment | AuthorizePayment | DeclinePayment | VoidPayment
