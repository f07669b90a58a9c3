"""The payments domain: the Payment decider, the payment provider port with its fake adapter, and the
service that reacts to order events. Knows the orders context only through its published events."""

from microsystem.messages import UnexpectedEventError
from payments.commands import AuthorizePayment, DeclinePayment, PaymentCommand, RequestPayment, VoidPayment
from payments.errors import (
    PaymentAlreadySettledError,
    PaymentError,
    PaymentNotRequestedError,
    PaymentRequestMismatchError,
    ProviderError,
    ProviderUnavailableError,
)
from payments.events import (
    PaymentAuthorized,
    PaymentDeclined,
    PaymentEvent,
    PaymentRequested,
    PaymentVoided,
    payment_events,
)
from payments.inbound import OrderCancelled, OrderCreated, read_order_event
from payments.payment import Payment, PaymentStatus, decide, evolve, payment_decider, payment_id_for
from payments.provider import (
    Approved,
    AuthorizationRequest,
    AuthorizationResult,
    Declined,
    FakePaymentProvider,
    LedgerEntry,
    PaymentProvider,
    provider_from_environment,
)
from payments.service import PaymentService, card_on_file

__all__ = [
    "Approved",
    "AuthorizationRequest",
    "AuthorizationResult",
    "AuthorizePayment",
    "DeclinePayment",
    "Declined",
    "FakePaymentProvider",
    "LedgerEntry",
    "OrderCancelled",
    "OrderCreated",
    "Payment",
    "PaymentAlreadySettledError",
    "PaymentAuthorized",
    "PaymentCommand",
    "PaymentDeclined",
    "PaymentError",
    "PaymentEvent",
    "PaymentNotRequestedError",
    "PaymentProvider",
    "PaymentRequestMismatchError",
    "PaymentRequested",
    "PaymentService",
    "PaymentStatus",
    "PaymentVoided",
    "ProviderError",
    "ProviderUnavailableError",
    "RequestPayment",
    "UnexpectedEventError",
    "VoidPayment",
    "card_on_file",
    "decide",
    "evolve",
    "payment_decider",
    "payment_events",
    "payment_id_for",
    "provider_from_environment",
    "read_order_event",
]
