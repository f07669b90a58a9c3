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


class ReturnNotFoundError(OrderError):
    """No such return of the order (answered 404)."""

    def __init__(self, order_id: str, return_id: str) -> None:
        super().__init__(order_id, f"order {order_id} has no return {return_id}")
        self.return_id = return_id


class ReturnNotAllowedError(OrderError):
    """A return the order's state or the return window forbids, or more units than are left to return:
    `field` names what the caller sent that is refused (answered 409)."""

    def __init__(self, order_id: str, message: str, field: str = "status") -> None:
        super().__init__(order_id, message)
        self.field = field


class ReturnAlreadySettledError(OrderError):
    """A return received, expired or asked again differently: the first outcome stands (answered 409)."""

    def __init__(self, order_id: str, return_id: str, status: str, action: str) -> None:
        super().__init__(
            order_id, f"return {return_id} of order {order_id} is {status} and cannot be {action}"
        )
        self.return_id = return_id
        self.status = status
