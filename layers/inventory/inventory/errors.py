"""Why the Stock aggregate refuses a command: one named error per broken rule."""


class StockError(Exception):
    """Base of every rule the Stock aggregate enforces."""

    def __init__(self, sku: str, message: str) -> None:
        super().__init__(message)
        self.sku = sku
        self.message = message


class UnknownSkuError(StockError):
    """The warehouse does not keep this SKU (it is not in the stock configuration)."""

    def __init__(self, sku: str) -> None:
        super().__init__(sku, f"SKU {sku} is not kept in this warehouse")


class StockNotOpenedError(StockError):
    def __init__(self, sku: str) -> None:
        super().__init__(
            sku, f"the stock of {sku} has not been opened; open it with its opening balance first"
        )


class ReservationMismatchError(StockError):
    """A second reservation for one order with another quantity: an order's lines never change."""

    def __init__(self, sku: str, order_id: str, held: int, requested: int) -> None:
        super().__init__(
            sku,
            f"order {order_id} already holds {held} of {sku}; it cannot be reserved again for {requested}",
        )
        self.order_id = order_id


class NotEnoughToMoveError(StockError):
    """A move asked a bucket for more than it has available (its state changed since it was read)."""

    def __init__(self, sku: str, bucket: int, requested: int, available: int) -> None:
        super().__init__(
            sku, f"bucket {bucket} of {sku} has {available} available; it cannot give {requested}"
        )
        self.available = available
