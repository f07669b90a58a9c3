"""The fake payment provider: deterministic answers, charges at most once per idempotency key."""

import pytest

from payments import (
    Approved,
    AuthorizationRequest,
    Declined,
    FakePaymentProvider,
    ProviderUnavailableError,
    provider_from_environment,
)


def request(key="pay-1", amount=2000, card="card-ok"):
    return AuthorizationRequest(
        idempotency_key=key, amount=amount, currency="EUR", card_token=card, reference="o-1"
    )


class TestAuthorize:
    def test_approves_under_the_limit_and_records_one_authorisation(self):
        provider = FakePaymentProvider(decline_above=5000)
        assert provider.authorize(request()) == Approved("auth-pay-1")
        assert provider.ledger["pay-1"].authorizations == 1

    def test_a_repeated_key_returns_the_first_answer_without_charging_again(self):
        provider = FakePaymentProvider(decline_above=5000)
        first = provider.authorize(request())
        assert provider.authorize(request()) == first
        entry = provider.ledger["pay-1"]
        assert (entry.authorizations, entry.calls) == (1, 2)

    def test_declines_above_the_limit_and_the_test_card(self):
        provider = FakePaymentProvider(decline_above=5000, declined_card="card-bad")
        assert isinstance(provider.authorize(request("a", amount=5001)), Declined)
        assert isinstance(provider.authorize(request("b", card="card-bad")), Declined)
        assert provider.ledger["a"].authorizations == provider.ledger["b"].authorizations == 0

    def test_the_flaky_card_fails_transiently_then_succeeds(self):
        provider = FakePaymentProvider(flaky_card="card-flaky", transient_failures=2)
        for _ in range(2):
            with pytest.raises(ProviderUnavailableError):
                provider.authorize(request(card="card-flaky"))
        assert isinstance(provider.authorize(request(card="card-flaky")), Approved)

    def test_an_outage_fails_the_next_calls(self):
        provider = FakePaymentProvider()
        provider.fail_next(1)
        with pytest.raises(ProviderUnavailableError):
            provider.authorize(request())
        assert isinstance(provider.authorize(request()), Approved)


class TestVoid:
    def test_releases_an_authorisation_once(self):
        provider = FakePaymentProvider()
        provider.authorize(request())
        provider.void(idempotency_key="pay-1")
        provider.void(idempotency_key="pay-1")
        assert provider.ledger["pay-1"].status == "voided"
        assert not provider.authorized("pay-1")

    def test_a_void_before_the_authorisation_refuses_it(self):
        provider = FakePaymentProvider()
        provider.void(idempotency_key="pay-1")
        assert isinstance(provider.authorize(request()), Declined)
        assert provider.ledger["pay-1"].authorizations == 0


def test_the_environment_configures_the_fake(monkeypatch):
    monkeypatch.setenv("FAKE_PROVIDER_DECLINE_ABOVE", "123")
    monkeypatch.setenv("FAKE_PROVIDER_DECLINED_CARD", "tok-bad")
    monkeypatch.setenv("FAKE_PROVIDER_FLAKY_CARD", "tok-flaky")
    monkeypatch.setenv("FAKE_PROVIDER_TRANSIENT_FAILURES", "5")
    provider = provider_from_environment()
    assert isinstance(provider, FakePaymentProvider)
    assert (
        provider.decline_above,
        provider.declined_card,
        provider.flaky_card,
        provider.transient_failures,
    ) == (
        123,
        "tok-bad",
        "tok-flaky",
        5,
    )


def test_an_unknown_adapter_is_refused(monkeypatch):
    monkeypatch.setenv("PAYMENT_PROVIDER", "acme")
    with pytest.raises(ValueError, match="PAYMENT_PROVIDER='acme'"):
        provider_from_environment()
