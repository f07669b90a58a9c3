"""Why the Shipment aggregate refuses a command: one named error per broken rule, each with a message that
tells warehouse staff what to do instead."""


class ShipmentError(Exception):
    """Base of every rule the Shipment aggregate enforces."""

    def __init__(self, shipment_id: str, message: str) -> None:
        super().__init__(message)
        self.shipment_id = shipment_id
        self.message = message


class ShipmentNotFoundError(ShipmentError):
    def __init__(self, shipment_id: str) -> None:
        super().__init__(shipment_id, f"shipment {shipment_id} not found")


class ShipmentNotReadyError(ShipmentError):
    def __init__(self, shipment_id: str, status: str) -> None:
        super().__init__(
            shipment_id,
            f"shipment {shipment_id} is {status}: only a shipment ready to ship can be dispatched",
        )
        self.status = status


class ShipmentCancelledError(ShipmentError):
    def __init__(self, shipment_id: str) -> None:
        super().__init__(shipment_id, f"shipment {shipment_id} was cancelled with its order: do not ship it")


class AlreadyDispatchedError(ShipmentError):
    """Dispatched before with another carrier or tracking number: a parcel leaves once."""

    def __init__(self, shipment_id: str, carrier: str, tracking_number: str) -> None:
        super().__init__(
            shipment_id,
            f"shipment {shipment_id} was already dispatched with {carrier} under tracking number "
            f"{tracking_number}; correct it with the carrier, not by dispatching again",
        )
        self.carrier = carrier
        self.tracking_number = tracking_number


class ShipmentNotDispatchedError(ShipmentError):
    def __init__(self, shipment_id: str, status: str) -> None:
        super().__init__(
            shipment_id, f"shipment {shipment_id} is {status}: it can be delivered once dispatched"
        )
        self.status = status


class ShipmentAlreadyLeftError(ShipmentError):
    """A cancellation arrived after the parcel left: the order's cancellation raced its dispatch, and the
    parcel must come back as a return."""

    def __init__(self, shipment_id: str, status: str) -> None:
        super().__init__(
            shipment_id, f"shipment {shipment_id} is {status}: too late to cancel, arrange a return"
        )
        self.status = status


class ShipmentAddressErasedError(ShipmentError):
    def __init__(self, shipment_id: str) -> None:
        super().__init__(
            shipment_id,
            f"shipment {shipment_id} cannot be dispatched: the customer's personal data was erased, so its "
            "address can no longer be read; the shipment is held as undeliverable and its order cancelled: "
            "put the goods back",
        )


class ShipmentAddressMissingError(ShipmentError):
    def __init__(self, shipment_id: str) -> None:
        super().__init__(
            shipment_id,
            f"shipment {shipment_id} cannot be dispatched: its order was placed without a shipping address",
        )
