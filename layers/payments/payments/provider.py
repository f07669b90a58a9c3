"""The payment provider port and its deterministic fake adapter (the default).

Idempotency: every call carries an idempotency key (the payment id) and the provider answers a repeated key
with the original result instead of charging again, as real providers do (Stripe's `Idempotency-Key`,
Adyen's `idempotencyKey`). We rely on that key rather than on Powertools idempotency around the call: only
the provider can make the charge itself exactly-once, since a crash after the provider answered and before
anything of ours was written (a Powertools record, or our PaymentAuthorized) leaves the next attempt no way
to know the charge happened. The payments event log then keeps the provider from being called at all once
an outcome is recorded. See docs/payments.md."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Literal, Protocol

from payments.errors import ProviderUnavailableError


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    idempotency_key: str
    amount: int
    currency: str
    card_token: str
    reference: str  # the order id, shown on the provider's dashboard


@dataclass(frozen=True, slots=True)
class Approved:
    authorization_id: str


@dataclass(frozen=True, slots=True)
class Declined:
    reason: str


AuthorizationResult = Approved | Declined


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    """Take `amount` (at most what was authorised) from the authorisation made under `authorization_key`;
    the rest of it is released (a partial capture)."""

    idempotency_key: str
    authorization_key: str
    amount: int


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Give back `amount` of the capture of the payment authorised under `authorization_key`."""

    idempotency_key: str
    authorization_key: str
    amount: int


@dataclass(frozen=True, slots=True)
class Captured:
    capture_id: str


@dataclass(frozen=True, slots=True)
class Refunded:
    refund_id: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The provider refused (the authorisation expired, a refund above what is left): nothing moved."""

    reason: str


CaptureResult = Captured | Refused
RefundResult = Refunded | Refused


class PaymentProvider(Protocol):
    def authorize(self, request: AuthorizationRequest) -> AuthorizationResult:
        """Authorise (reserve) the amount on the card, once per idempotency key; repeating a key returns the
        first answer. Raise ProviderUnavailableError when the outcome is unknown: retry with the same key."""
        ...

    def void(self, *, idempotency_key: str) -> None:
        """Release the authorisation made under `idempotency_key`, if any, and refuse any later authorisation
        under it. Idempotent. Raise ProviderUnavailableError to be retried."""
        ...

    def capture(self, request: CaptureRequest) -> CaptureResult:
        """Capture once per idempotency key (a repeated key answers the first result); one capture per
        authorisation. Raise ProviderUnavailableError when the outcome is unknown: retry with the same key."""
        ...

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund once per idempotency key; several partial refunds of one capture, refused once they would
        exceed it. Raise ProviderUnavailableError when the outcome is unknown: retry with the same key."""
        ...


# -- the fake ------------------------------------------------------------------------------------------------


@dataclass
class LedgerEntry:
    """What the fake provider holds for one idempotency key."""

    status: Literal["authorized", "declined", "voided"]
    amount: int
    currency: str
    authorization_id: str | None = None
    reason: str | None = None
    authorizations: int = 0  # how many times money was actually reserved under this key: never above 1
    calls: int = 0
    captured: int = 0
    captures: int = 0  # how many times money was actually taken: never above 1
    refunds: dict[str, int] = field(default_factory=dict)  # refund id -> amount given back

    @property
    def refunded(self) -> int:
        return sum(self.refunds.values())


@dataclass
class FakePaymentProvider:
    """Deterministic stand-in for a card payment provider. Declines amounts above `decline_above` (minor
    units) and the card `declined_card`; fails transiently the first `transient_failures` calls of each key on
    the card `flaky_card`; never answers an authorisation on the card `unresponsive_card` (an outage longer
    than any retry). Keeps a ledger by idempotency key, so tests can assert a payment was authorised
    once. The ledger lives in memory: one per container, which is all a fake needs."""

    decline_above: int | None = 100_000
    declined_card: str = "customer-card-declined"
    flaky_card: str = "customer-card-flaky"
    unresponsive_card: str = "customer-card-unresponsive"
    # The test tokens of payment methods (docs/payments.md): declined, flaky, unresponsive, as the cards
    # above; any other `pm_...` token is a card that authorises.
    declined_token: str = "pm_card_declined"
    flaky_token: str = "pm_card_flaky"
    unresponsive_token: str = "pm_card_unresponsive"
    expired_token: str = "pm_card_expiring"  # authorises, then refuses the capture: the hold has expired
    transient_failures: int = 2
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    _attempts: dict[str, int] = field(default_factory=dict, repr=False)
    _outage: int = field(default=0, repr=False)
    _capture_answers: dict[str, CaptureResult] = field(default_factory=dict, repr=False)
    _refund_answers: dict[str, RefundResult] = field(default_factory=dict, repr=False)
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)  # authorisation key -> card token
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_environment(cls) -> FakePaymentProvider:
        """FAKE_PROVIDER_DECLINE_ABOVE (minor units, empty for no limit), FAKE_PROVIDER_DECLINED_CARD,
        FAKE_PROVIDER_FLAKY_CARD, FAKE_PROVIDER_UNRESPONSIVE_CARD, FAKE_PROVIDER_TRANSIENT_FAILURES."""
        defaults = cls()
        limit = os.environ.get("FAKE_PROVIDER_DECLINE_ABOVE", str(defaults.decline_above))
        return cls(
            decline_above=int(limit) if limit.strip() else None,
            declined_card=os.environ.get("FAKE_PROVIDER_DECLINED_CARD") or defaults.declined_card,
            flaky_card=os.environ.get("FAKE_PROVIDER_FLAKY_CARD") or defaults.flaky_card,
            unresponsive_card=os.environ.get("FAKE_PROVIDER_UNRESPONSIVE_CARD") or defaults.unresponsive_card,
            transient_failures=int(
                os.environ.get("FAKE_PROVIDER_TRANSIENT_FAILURES") or defaults.transient_failures
            ),
        )

    def fail_next(self, calls: int) -> None:
        """An outage: the next `calls` calls of any kind fail with ProviderUnavailableError."""
        with self._lock:
            self._outage += calls

    def authorize(self, request: AuthorizationRequest) -> AuthorizationResult:
        key = request.idempotency_key
        with self._lock:
            self._fail_if_unavailable(key, request.card_token)
            entry = self.ledger.get(key)
            if entry is None:
                entry = self.ledger[key] = self._first_answer(request)
                self._tokens[key] = request.card_token
            entry.calls += 1
            if entry.status == "authorized":
                return Approved(entry.authorization_id or "")
            return Declined(entry.reason or "voided before authorisation")

    def void(self, *, idempotency_key: str) -> None:
        with self._lock:
            self._fail_if_unavailable(idempotency_key, None)
            entry = self.ledger.get(idempotency_key)
            if entry is None:
                self.ledger[idempotency_key] = LedgerEntry(
                    "voided", 0, "", reason="voided before authorisation"
                )
            elif entry.status == "authorized":
                entry.status = "voided"

    def capture(self, request: CaptureRequest) -> CaptureResult:
        with self._lock:
            self._fail_if_unavailable(request.idempotency_key, None)
            if request.idempotency_key in self._capture_answers:
                return self._capture_answers[request.idempotency_key]
            entry = self.ledger.get(request.authorization_key)
            answer: CaptureResult
            if entry is None or entry.status != "authorized":
                answer = Refused(f"no authorisation to capture ({entry.status if entry else 'none'})")
            elif self._tokens.get(request.authorization_key) == self.expired_token:
                answer = Refused("the authorisation has expired")
            elif entry.captures:
                answer = Refused("the authorisation is captured already")
            elif request.amount > entry.amount:
                answer = Refused(f"capture of {request.amount} above the authorised {entry.amount}")
            else:
                entry.captured, entry.captures = request.amount, 1
                answer = Captured(f"capture-{request.authorization_key}")
            self._capture_answers[request.idempotency_key] = answer
            return answer

    def refund(self, request: RefundRequest) -> RefundResult:
        with self._lock:
            self._fail_if_unavailable(request.idempotency_key, None)
            if request.idempotency_key in self._refund_answers:
                return self._refund_answers[request.idempotency_key]
            entry = self.ledger.get(request.authorization_key)
            answer: RefundResult
            if entry is None or not entry.captures:
                answer = Refused("nothing was captured")
            elif request.amount > entry.captured - entry.refunded:
                answer = Refused(
                    f"refund of {request.amount} above the {entry.captured - entry.refunded} left to refund"
                )
            else:
                refund_id = f"refund-{len(entry.refunds) + 1}-{request.authorization_key}"
                entry.refunds[refund_id] = request.amount
                answer = Refunded(refund_id)
            self._refund_answers[request.idempotency_key] = answer
            return answer

    def authorized(self, idempotency_key: str) -> bool:
        entry = self.ledger.get(idempotency_key)
        return entry is not None and entry.status == "authorized"

    def _first_answer(self, request: AuthorizationRequest) -> LedgerEntry:
        if request.card_token in (self.declined_card, self.declined_token):
            return LedgerEntry("declined", request.amount, request.currency, reason="card declined")
        if self.decline_above is not None and request.amount > self.decline_above:
            return LedgerEntry(
                "declined", request.amount, request.currency, reason="amount over the card's limit"
            )
        return LedgerEntry(
            "authorized",
            request.amount,
            request.currency,
            authorization_id=f"auth-{request.idempotency_key}",
            authorizations=1,
        )

    def _fail_if_unavailable(self, key: str, card_token: str | None) -> None:
        if self._outage > 0:
            self._outage -= 1
            raise ProviderUnavailableError("payment provider unavailable (simulated outage)")
        if card_token is not None and card_token in (self.unresponsive_card, self.unresponsive_token):
            raise ProviderUnavailableError("payment provider did not answer (simulated, it never does)")
        if card_token is not None and card_token in (self.flaky_card, self.flaky_token):
            attempts = self._attempts[key] = self._attempts.get(key, 0) + 1
            if attempts <= self.transient_failures:
                raise ProviderUnavailableError(
                    f"payment provider timed out (simulated, attempt {attempts} of key {key})"
                )


def provider_from_environment() -> PaymentProvider:
    """PAYMENT_PROVIDER selects the adapter; `fake` (the default) is the only one so far."""
    name = os.environ.get("PAYMENT_PROVIDER", "fake")
    if name == "fake":
        return FakePaymentProvider.from_environment()
    raise ValueError(f"PAYMENT_PROVIDER={name!r} is not a known adapter; known: fake")
