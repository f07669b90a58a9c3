"""Why the Order aggregate refuses a command: one named error per broken rule, each carrying the order id
and a message that tells the caller what to do instead."""


class OrderError(Exception):
    """Base of every rule the Order aggregate enforces."""

    def __init__(self, order_id: str, message: str) -> None:
        super().__init__(message)
        self.order_id = order_id
        self.message = message


class OrderNotFoundError(OrderError):
    """No such order, or not one the caller may see: both read the same, so ids do not leak."""

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id, f"order {order_id} not found")


class OrderAlreadyExistsError(OrderError):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            order_id, f"order {order_id} already exists; place a new order with a new id or idempotency key"
        )


class OrderAlreadyShippedError(OrderError):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            order_id, f"order {order_id} has already shipped and can no longer be cancelled; ask for a return"
        )


class OrderAlreadyCancelledError(OrderError):
    def __init__(self, order_id: str, action: str = "changed") -> None:
        super().__init__(
            order_id, f"order {order_id} was cancelled and cannot be {action}; place a new order"
        )
        self.action = action


class OrderNotConfirmedError(OrderError):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            order_id,
            f"order {order_id} is still awaiting payment; it can be shipped once its payment is confirmed",
        )


class OrderNotShippedError(OrderError):
    def __init__(self, order_id: str) -> None:
        super().__init__(order_id, f"order {order_id} has not shipped yet; it can be delivered once it has")


class PaymentMismatchError(OrderError):
    """A second, different payment tries to confirm an order already paid: that payment should be voided."""

    def __init__(self, order_id: str, *, confirmed_payment_id: str | None, payment_id: str) -> None:
        super().__init__(
            order_id,
            f"order {order_id} is already confirmed by payment {confirmed_payment_id}; "
            f"payment {payment_id} cannot confirm it again and should be voided",
        )
        self.confirmed_payment_id = confirmed_payment_id
        self.payment_id = payment_id
