"""Erasing a customer's personal data (GDPR article 17) without deleting a fact: the customer's data key is
destroyed (crypto-shredding, `eventcore.personal_data`), so every address and email sealed under it becomes
unreadable wherever it is (events, snapshots, streams, read models), and the erasure is recorded as a fact
of its own in the customer's stream (`Customer-<id>`), never with the data. Orders keep their lines,
totals and statuses; a new order afterwards is sealed under a new key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from eventcore import Decider, Event, EventNotApplicableError, EventRegistry
from eventcore.write.command_ids import derived_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from eventcore import DeciderRunner
    from eventcore.personal_data import Vault

Requester = Literal["customer", "privacy_staff"]


class ErasePersonalData(BaseModel):
    """`destroyed_key_id`: the key the vault destroyed for this request (None: there was none left)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: Annotated[str, Field(min_length=1, max_length=128)]
    destroyed_key_id: str | None
    requested_by: Requester
    at: AwareDatetime


class PersonalDataErased(Event):
    """The customer's personal data was made unreadable: `destroyed_key_id` is the data key destroyed (None
    when an earlier request had destroyed it and this one only completes the record)."""

    customer_id: str
    destroyed_key_id: str | None
    requested_by: Requester
    erased_at: AwareDatetime


customer_events = EventRegistry([PersonalDataErased])


class CustomerPrivacy(BaseModel):
    """What the log knows of a customer's erasures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    erasures: int
    last_erased_at: AwareDatetime


def evolve(state: CustomerPrivacy | None, event: Event) -> CustomerPrivacy | None:
    match state, event:
        case None, PersonalDataErased() as erased:
            return CustomerPrivacy(
                customer_id=erased.customer_id, erasures=1, last_erased_at=erased.erased_at
            )
        case CustomerPrivacy() as privacy, PersonalDataErased() as erased:
            return privacy.model_copy(
                update={"erasures": privacy.erasures + 1, "last_erased_at": erased.erased_at}
            )
    raise EventNotApplicableError(event, state)


def decide(command: ErasePersonalData, state: CustomerPrivacy | None) -> list[Event]:
    if command.destroyed_key_id is None and state is not None:
        return []  # nothing destroyed now and the erasure is on record: erasing twice changes nothing
    return [
        PersonalDataErased(
            customer_id=command.customer_id,
            destroyed_key_id=command.destroyed_key_id,
            requested_by=command.requested_by,
            erased_at=command.at,
        )
    ]


customer_decider: Decider[ErasePersonalData, CustomerPrivacy | None] = Decider(
    aggregate="Customer",
    initial_state=None,
    decide=decide,
    evolve=evolve,
    registry=customer_events,
    state_type=CustomerPrivacy | None,
)


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure request did: `destroyed` when a key was destroyed by it; `replayed` when it was a
    retry of a request already done (nothing destroyed again)."""

    customer_id: str
    destroyed: bool
    erased_at: datetime | None
    recorded: bool
    replayed: bool = False


class PrivacyService:
    def __init__(
        self,
        vault: Vault,
        runner: DeciderRunner[ErasePersonalData, CustomerPrivacy | None],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.vault = vault
        self.runner = runner
        self._clock = clock
        self._new_id = new_id

    def erase(
        self,
        customer_id: str,
        *,
        requested_by: Requester,
        idempotency_key: str | None,
        correlation_id: str | None,
    ) -> Erasure:
        """Destroy first, then record: the fact states what happened. A retry after a crash in between finds
        no key, and records the erasure if nothing is on record yet. A retry of a request already recorded
        destroys nothing: the customer may have given new personal data since, which it never asked to
        erase."""
        command_id = derived_id("ErasePersonalData", customer_id, idempotency_key or self._new_id())
        # Any repeat of the request is the same request, whatever it destroyed the first time.
        request = derived_id("erase", customer_id, requested_by)
        if idempotency_key and (
            done := self.runner.applied(customer_id, command_id=command_id, fingerprint=request)
        ):
            erased_at = done.state.last_erased_at if done.state else None
            return Erasure(customer_id, False, erased_at, False, replayed=True)
        destroyed = self.vault.erase(customer_id)
        command = ErasePersonalData(
            customer_id=customer_id, destroyed_key_id=destroyed, requested_by=requested_by, at=self._clock()
        )
        result = self.runner.handle(
            customer_id,
            command,
            command_id=command_id,
            fingerprint=request,
            correlation_id=correlation_id,
        )
        state = result.state
        return Erasure(
            customer_id,
            destroyed is not None,
            state.last_erased_at if state else None,
            bool(result.events),
            replayed=result.duplicate,
        )
