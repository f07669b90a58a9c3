"""What can be asked of a SKU's stock: imperative commands carrying everything a decision needs, including
the time, so deciding stays pure."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,63}$")]
Id = Annotated[str, Field(min_length=1, max_length=128)]
Quantity = Annotated[int, Field(gt=0, le=1_000_000)]
MAX_BUCKETS = 64  # a split writes each bucket and a short bucket reads them all (docs/capacity.md)
BucketCount = Annotated[int, Field(ge=1, le=MAX_BUCKETS)]
Bucket = Annotated[int, Field(ge=0, lt=MAX_BUCKETS)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenStock(_Command):
    """Start keeping one bucket of the SKU's stock: bucket 0 with the opening balance from the configuration,
    any other bucket empty. `layouts`: the numbers of buckets the SKU has been kept in, the current last."""

    sku: Sku
    quantity: Annotated[int, Field(ge=0, le=1_000_000)]
    at: AwareDatetime
    bucket: Bucket = 0
    layouts: tuple[BucketCount, ...] = (1,)


class SplitStock(_Command):
    """Staff: keep the SKU's stock in `buckets` buckets from now on (told to every bucket it has). `layouts`:
    every layout bucket 0 has had, this one last, so that a bucket told of a split learns any earlier
    layout it missed (a split cut short, or two at once); empty: this bucket's own, with `buckets` last."""

    sku: Sku
    buckets: BucketCount
    at: AwareDatetime
    layouts: tuple[BucketCount, ...] = ()

    @model_validator(mode="after")
    def _ends_with_buckets(self) -> SplitStock:
        if self.layouts and self.layouts[-1] != self.buckets:
            raise ValueError("a split's layouts end with its number of buckets")
        return self


class MoveStockOut(_Command):
    """Give `quantity` available units to another bucket of the SKU: they leave this bucket now, and are the
    other bucket's from then on, in transit until it claims them (MoveStockIn)."""

    sku: Sku
    move_id: Id
    to_bucket: Bucket
    quantity: Quantity
    at: AwareDatetime


class MoveStockIn(_Command):
    """Claim the units bucket `from_bucket` has given this bucket and it has not claimed yet: `sent_total` is
    how many units that bucket has given this one in all, as read from its log (a stale read claims less,
    never more, and the rest at the next claim). `move_id` names the claim."""

    sku: Sku
    move_id: Id
    from_bucket: Bucket
    sent_total: Annotated[int, Field(ge=0)]
    at: AwareDatetime


class ReceiveStock(_Command):
    """Goods arrived at the warehouse."""

    sku: Sku
    receipt_id: Id
    quantity: Quantity
    at: AwareDatetime


class ReserveStock(_Command):
    """Hold `quantity` for an order until it ships or is released. The request is valid until `expires_at`
    (the order's fulfillment deadline): after it, the order's process manager has given up on the answer."""

    sku: Sku
    order_id: Id
    quantity: Quantity
    expires_at: AwareDatetime
    at: AwareDatetime


class ReleaseStock(_Command):
    """Give back what an order holds (it was cancelled)."""

    sku: Sku
    order_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=64)]
    at: AwareDatetime


class CommitStock(_Command):
    """The order's goods left the warehouse: what it holds is no longer on hand."""

    sku: Sku
    order_id: Id
    at: AwareDatetime


StockCommand = (
    OpenStock
    | SplitStock
    | MoveStockOut
    | MoveStockIn
    | ReceiveStock
    | ReserveStock
    | ReleaseStock
    | CommitStock
)
