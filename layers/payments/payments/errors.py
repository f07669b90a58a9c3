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


class PaymentNotCapturableError(PaymentError):
    """A capture of a payment that is not authorised (never authorised, declined, voided)."""

    def __init__(self, payment_id: str, status: str) -> None:
        super().__init__(
            payment_id, f"payment {payment_id} is {status}: only an authorised payment is captured"
        )
        self.status = status


class RefundAboveCaptureError(PaymentError):
    """A refund that would take the payment's refunds above what was captured: refused, never sent."""

    def __init__(self, payment_id: str, amount: int, left: int) -> None:
        super().__init__(
            payment_id, f"payment {payment_id} has {left} left to refund; a refund of {amount} is refused"
        )
        self.amount = amount
        self.left = left


class RefundMismatchError(PaymentError):
    """A second refund under the same refund id with another amount, or a refund never requested."""

    def __init__(self, payment_id: str, refund_id: str) -> None:
        super().__init__(
            payment_id,
            f"refund {refund_id} of payment {payment_id} was never requested, or with another amount",
        )
        self.refund_id = refund_id


class ProviderError(Exception):
    """Base of the payment provider port's failures."""


class ProviderUnavailableError(ProviderError):
    """The provider could not answer this time (timeout, 5xx, throttling): retry the same call, with the same
    idempotency key, later. Nothing was charged twice whatever happened on the provider's side."""
