"""Why the Payment aggregate refuses a command, and how the provider port fails: one named error each."""


class PaymentError(Exception):
    """Base of every rule the Payment aggregate enforces."""

    def __init__(self, payment_id: str, message: str) -> None:
        super().__init__(message)
        self.payment_id = payment_id
        self.message = message


class PaymentNotRequestedError(PaymentError):
    def __init__(self, payment_id: str) -> None:
        super().__init__(payment_id, f"payment {payment_id} was never requested; request it first")


class PaymentAlreadySettledError(PaymentError):
    """The payment already has an outcome (authorised, declined or voided) that the command contradicts."""

    def __init__(self, payment_id: str, status: str, action: str) -> None:
        super().__init__(payment_id, f"payment {payment_id} is already {status} and cannot be {action}")
        self.status = status
        self.action = action


class PaymentRequestMismatchError(PaymentError):
    """A second request for the same payment id with a different amount, currency or card."""

    def __init__(self, payment_id: str) -> None:
        super().__init__(
            payment_id,
            f"payment {payment_id} was already requested with a different amount, currency or card",
        )


class ProviderError(Exception):
    """Base of the payment provider port's failures."""


class ProviderUnavailableError(ProviderError):
    """The provider could not answer this time (timeout, 5xx, throttling): retry the same call, with the same
    idempotency key, later. Nothing was charged twice whatever happened on the provider's side."""
