"""What can be asked of an order: imperative commands carrying everything a decision needs, including
the time, so deciding stays pure."""

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from eventcore.personal_data import SealedData
from orders.events import CancellationReason, ReceivedLine, ReturnLine
from orders.pricing import CountryCode, PricedOrder

Id = Annotated[str, Field(min_length=1, max_length=128)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlaceOrder(_Command):
    """`personal` is the order's personal data (address, email), sealed under the customer's key."""

    order_id: Id
    customer_id: Id
    priced: PricedOrder
    destination_country: CountryCode
    personal: SealedData | None = None
    payment_method: Id | None = None
    at: AwareDatetime


class ConfirmOrder(_Command):
    order_id: Id
    payment_id: Id
    at: AwareDatetime


class CancelOrder(_Command):
    """`requested_by` is the customer's id when a customer asks, None when the system cancels (e.g. the
    payment was declined): a customer may cancel only their own orders."""

    order_id: Id
    reason: CancellationReason
    requested_by: Id | None
    at: AwareDatetime


class ShipOrder(_Command):
    """The order's parcel left the warehouse (shipping dispatched it)."""

    order_id: Id
    carrier: Annotated[str, Field(min_length=1, max_length=64)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)]
    at: AwareDatetime


class DeliverOrder(_Command):
    order_id: Id
    at: AwareDatetime


class RecordCapture(_Command):
    """Payments captured the order's payment (the process heard it)."""

    order_id: Id
    amount: Annotated[int, Field(gt=0)]
    at: AwareDatetime


class FlagAuthorisationExpiring(_Command):
    """The payment's authorisation expires at `expires_at` and the parcel has not left (the process saw)."""

    order_id: Id
    expires_at: AwareDatetime
    at: AwareDatetime


class RequestReturn(_Command):
    """The customer `requested_by` asks to return `lines` of their delivered order, within `window_seconds`
    of its delivery; the parcel is awaited until `deadline_at`."""

    order_id: Id
    return_id: Id
    requested_by: Id
    lines: Annotated[tuple[ReturnLine, ...], Field(min_length=1)]
    window_seconds: Annotated[int, Field(gt=0)]
    deadline_at: AwareDatetime
    at: AwareDatetime


class ReceiveReturn(_Command):
    """Warehouse staff received the return's parcel and found `lines` in the state each says."""

    order_id: Id
    return_id: Id
    lines: Annotated[tuple[ReceivedLine, ...], Field(min_length=1)]
    at: AwareDatetime


class ExpireReturn(_Command):
    """The return's deadline passed (the process saw no parcel arrive)."""

    order_id: Id
    return_id: Id
    at: AwareDatetime


class RecordReturnRefund(_Command):
    """Payments refunded the return (the process heard it)."""

    order_id: Id
    return_id: Id
    amount: Annotated[int, Field(ge=0)]
    at: AwareDatetime


OrderCommand = (
    PlaceOrder
    | ConfirmOrder
    | CancelOrder
    | ShipOrder
    | DeliverOrder
    | RecordCapture
    | FlagAuthorisationExpiring
    | RequestReturn
    | ReceiveReturn
    | ExpireReturn
    | RecordReturnRefund
)
