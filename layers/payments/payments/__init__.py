"""The payments domain: the Payment decider, the payment provider port with its fake adapter, and the
service that applies the payment commands other contexts queue. Knows no other context's code."""

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
from payments.queued import PaymentRequest, PaymentVoid, read_queued_command
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
    "Payment",
    "PaymentAlreadySettledError",
    "PaymentAuthorized",
    "PaymentCommand",
    "PaymentDeclined",
    "PaymentError",
    "PaymentEvent",
    "PaymentNotRequestedError",
    "PaymentProvider",
    "PaymentRequest",
    "PaymentRequestMismatchError",
    "PaymentRequested",
    "PaymentService",
    "PaymentStatus",
    "PaymentVoid",
    "PaymentVoided",
    "ProviderError",
    "ProviderUnavailableError",
    "RequestPayment",
    "VoidPayment",
    "card_on_file",
    "decide",
    "evolve",
    "payment_decider",
    "payment_events",
    "payment_id_for",
    "provider_from_environment",
    "read_queued_command",
]
