"""The personal data an order carries: its shipping address and the customer's email, as the customer gives
them, sealed before they reach anything stored or sent (`eventcore.personal_data`), and revealed only to their
owner. The country to ship to stays in clear: pricing and shipping costs depend on it, and on its own it
names nobody."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from eventcore.personal_data import PersonalDataErasedError, SealedData

if TYPE_CHECKING:
    from eventcore.personal_data import Vault

Line = Annotated[str, Field(min_length=1, max_length=100)]


class ShippingAddress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: Line
    line1: Line
    line2: Annotated[str, Field(max_length=100)] | None = None
    city: Annotated[str, Field(min_length=1, max_length=60)]
    postal_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$")]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, upper case")]


Email = Annotated[
    str,
    Field(
        max_length=254,
        pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$",
        description="Where order updates go.",
    ),
]


class PersonalDetails(BaseModel):
    """What is sealed with an order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shipping_address: ShippingAddress
    email: Email | None = None


def for_owner(vault: Vault, document: dict[str, Any]) -> dict[str, Any]:
    """An order's document as its owner sees it: the sealed personal data replaced by what it says (the
    address and email), or by nulls and why (`personal_data`: erased, or none taken)."""
    shown = {name: value for name, value in document.items() if name != "personal"}
    sealed = document.get("personal")
    if sealed is None:
        return {**shown, "shipping_address": None, "email": None, "personal_data": "none"}
    try:
        details = PersonalDetails.model_validate(
            vault.open(str(document["customer_id"]), SealedData.model_validate(sealed))
        )
    except PersonalDataErasedError:
        return {**shown, "shipping_address": None, "email": None, "personal_data": "erased"}
    return {**shown, **details.model_dump(mode="json"), "personal_data": "available"}
