"""The payments context's composition root: its service built from a function's environment, once per
container (the event log, and the provider adapter PAYMENT_PROVIDER selects)."""

from __future__ import annotations

from eventcore.lambdas.wiring import Wiring
from payments.payment import payment_decider
from payments.provider import provider_from_environment
from payments.service import PaymentService


class PaymentsWiring(Wiring):
    def payment_service(self) -> PaymentService:
        return PaymentService(self.runner(payment_decider), provider_from_environment())
