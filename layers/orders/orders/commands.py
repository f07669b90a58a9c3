"""What can be asked of an order: imperative commands carrying everything a decision needs, including
the time, so deciding stays pure."""

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from eventcore.personal_data import SealedData
from orders.events import CancellationReason
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


OrderCommand = PlaceOrder | ConfirmOrder | CancelOrder | ShipOrder | DeliverOrder
