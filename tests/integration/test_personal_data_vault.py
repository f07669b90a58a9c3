"""The personal data vault on moto (DynamoDB and KMS): sealing, opening, erasure across containers, and the
requests each costs (counted with botocore's `before-call` hooks)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import boto3
import pytest

from eventcore.personal_data import KEY_CACHE_SECONDS, PersonalDataErasedError, PersonalDataVault, SealedData

DATA = {"shipping_address": {"name": "Ada", "line1": "Kade 1", "city": "Utrecht"}, "email": "ada@example.com"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Container:
    """One warm Lambda container's vault, with its own clients and a count of the requests they send."""

    def __init__(self, keys: dict[str, str], clock: Clock) -> None:
        self.requests: Counter[str] = Counter()
        dynamodb, kms = boto3.client("dynamodb"), boto3.client("kms")
        for client in (dynamodb, kms):
            client.meta.events.register("before-call.*.*", self._count)
        self.vault = PersonalDataVault(keys["table"], dynamodb, kms, keys["key"], clock=clock)

    def _count(self, model: Any, **_: Any) -> None:
        self.requests[f"{model.service_model.service_name}:{model.name}"] += 1

    def counted(self) -> dict[str, int]:
        counted = dict(self.requests)
        self.requests.clear()
        return counted


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def container(personal_data_keys, clock):
    return lambda: Container(personal_data_keys, clock)


class TestSealing:
    def test_sealed_data_opens_for_its_customer_and_holds_nothing_in_clear(self, container):
        vault = container().vault
        sealed = vault.key_for("ada").seal(DATA)
        assert vault.open("ada", sealed) == DATA
        assert "Kade" not in sealed.model_dump_json()
        assert vault.key_for("ada").seal(DATA).nonce != sealed.nonce  # a fresh nonce every time

    def test_sealed_data_copied_onto_another_customer_or_altered_does_not_open(self, container):
        vault = container().vault
        sealed = vault.key_for("ada").seal(DATA)
        vault.key_for("bob")
        with pytest.raises(PersonalDataErasedError):
            vault.open("bob", sealed.model_copy(update={"key_id": vault.key_for("bob").key_id}))
        flipped = bytearray(base64.b64decode(sealed.ciphertext))
        flipped[0] ^= 1
        with pytest.raises(PersonalDataErasedError):
            vault.open("ada", SealedData(key_id=sealed.key_id, nonce=sealed.nonce, ciphertext=_b64(flipped)))

    def test_the_data_key_is_stored_only_wrapped_by_kms(self, container, personal_data_keys, dynamodb):
        container().vault.key_for("ada")
        (item,) = dynamodb.scan(TableName=personal_data_keys["table"])["Items"]
        assert set(item) == {"customer_id", "key_id", "wrapped_key"}
        plaintext = boto3.client("kms").decrypt(
            CiphertextBlob=item["wrapped_key"]["B"], EncryptionContext={"customer_id": "ada"}
        )["Plaintext"]
        assert len(plaintext) == 32
        assert plaintext not in item["wrapped_key"]["B"]

    def test_two_containers_creating_a_first_key_at_once_agree_on_one(self, container):
        first, second = container().vault, container().vault
        sealed = first.key_for("ada").seal(DATA)
        assert second.key_for("ada").key_id == sealed.key_id
        assert second.open("ada", sealed) == DATA


class TestErasure:
    def test_erasure_is_immediate_where_it_happens_and_a_new_order_gets_a_new_key(self, container):
        vault = container().vault
        before = vault.key_for("ada").seal(DATA)
        assert vault.erase("ada") == before.key_id
        with pytest.raises(PersonalDataErasedError):
            vault.open("ada", before)
        assert vault.erase("ada") is None  # erasing twice is harmless
        after = vault.key_for("ada").seal(DATA)
        assert after.key_id != before.key_id
        assert vault.open("ada", after) == DATA
        with pytest.raises(PersonalDataErasedError):
            vault.open("ada", before)  # the old key stays gone

    def test_another_warm_container_stops_opening_within_the_cache_time_and_never_seals_under_it(
        self, container, clock
    ):
        warm, eraser = container().vault, container().vault
        before = warm.key_for("ada").seal(DATA)
        eraser.erase("ada")
        # a new order in the warm container checks the key: a new one, never the destroyed one it remembers
        after = warm.key_for("ada").seal(DATA)
        assert after.key_id != before.key_id
        with pytest.raises(PersonalDataErasedError):
            warm.open("ada", before)
        # a second erasure: the warm container still trusts the key it read, until the cache time is over
        eraser.erase("ada")
        assert warm.open("ada", after) == DATA
        clock.now += KEY_CACHE_SECONDS
        with pytest.raises(PersonalDataErasedError):
            warm.open("ada", after)

    def test_a_container_remembering_an_erased_key_opens_what_was_sealed_under_the_new_one(self, container):
        warm, other = container().vault, container().vault
        warm.open("ada", warm.key_for("ada").seal(DATA))
        other.erase("ada")
        newer = other.key_for("ada").seal(DATA)
        assert warm.open("ada", newer) == DATA


class TestRequests:
    def test_what_each_operation_costs_cold_and_warm(self, container):
        c = container()
        c.vault.key_for("ada").seal(DATA)
        assert c.counted() == {"dynamodb:GetItem": 1, "kms:GenerateDataKey": 1, "dynamodb:PutItem": 1}
        sealed = c.vault.key_for("ada").seal(DATA)
        assert c.counted() == {"dynamodb:GetItem": 1}  # sealing checks the key still exists; no KMS
        c.vault.open("ada", sealed)
        assert c.counted() == {}  # a warm open costs nothing

        cold = container()
        cold.vault.open("ada", sealed)
        assert cold.counted() == {"dynamodb:GetItem": 1, "kms:Decrypt": 1}

        c.vault.erase("ada")
        c.counted()
        for _ in range(3):  # an erased customer's orders listed: their key is known to be gone
            with pytest.raises(PersonalDataErasedError):
                c.vault.open("ada", sealed)
        assert c.counted() == {}


def _b64(data: bytes | bytearray) -> str:
    return base64.b64encode(bytes(data)).decode()


def test_nothing_personal_reaches_the_key_table(container, personal_data_keys, dynamodb):
    container().vault.key_for("ada").seal(DATA)
    assert "Kade" not in json.dumps(
        dynamodb.scan(TableName=personal_data_keys["table"])["Items"], default=str
    )
