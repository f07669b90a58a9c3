"""Personal data, sealed: a customer's personal fields are encrypted with a data key of their own
(AES-256-GCM, `cryptography`'s AEAD), and only the ciphertext and the key's reference ever reach an event, a
commit, a snapshot, a stream, a queue or a read model. The data keys are generated and wrapped by a KMS key
and kept, wrapped, in a vault table (one item per customer). Erasure destroys the customer's key
(crypto-shredding): every fact stays, and everything sealed under that key becomes unreadable everywhere.

Why not the AWS Encryption SDK or Powertools' data masking: both seal each message under a data key of its
own, wrapped inside the message by the KMS key, so no single thing can be destroyed to make one customer's
messages unreadable; what crypto-shredding needs is the customer's own key, outside the ciphertext."""

from __future__ import annotations

import base64
import hmac
import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field

from eventcore.errors import EventCoreError, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient

NONCE_BYTES = 12  # GCM's standard nonce: random per sealing, never reused with a key in practice
# How long a container trusts a data key it read for opening: an erasure in another container is effective
# here within this time (the erasing container forgets the key at once). Sealing always checks the key.
KEY_CACHE_SECONDS = 60.0
KEY_CACHE_SIZE = 4096


class SealedData(BaseModel):
    """Personal fields as they are stored and sent: the reference of the customer's data key, the nonce and
    the ciphertext (base64). Readable only while the key exists."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(min_length=1, max_length=200)
    nonce: str = Field(min_length=1, max_length=64)
    ciphertext: str = Field(min_length=1, max_length=16_384)


class PersonalDataErasedError(EventCoreError):
    """The customer's data key no longer exists (they asked for their personal data to be erased), or the
    sealed data is not theirs: it can never be read again."""

    def __init__(self, customer_id: str) -> None:
        super().__init__("the customer's personal data was erased and can no longer be read")
        self.customer_id = customer_id


class SealingKey(Protocol):
    """A customer's data key as it is now, for sealing a new order's personal data."""

    @property
    def key_id(self) -> str: ...
    def seal(self, data: dict[str, Any]) -> SealedData: ...
    def digest(self, data: dict[str, Any]) -> str: ...


class Vault(Protocol):
    """What the services need of a vault (PersonalDataVault is the real one; tests have an in-memory one)."""

    def key_for(self, customer_id: str) -> SealingKey: ...
    def open(self, customer_id: str, sealed: SealedData) -> dict[str, Any]: ...
    def erase(self, customer_id: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """A customer's data key in memory (plaintext: never logged, never stored), and when it was read."""

    customer_id: str
    key_id: str
    material: bytes = field(repr=False)
    read_at: float

    def seal(self, data: dict[str, Any]) -> SealedData:
        """The data sealed under this key, with a fresh random nonce."""
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(self.material).encrypt(nonce, _canonical(data), self.associated_data())
        return SealedData(key_id=self.key_id, nonce=_b64(nonce), ciphertext=_b64(ciphertext))

    def open(self, sealed: SealedData) -> dict[str, Any]:
        if sealed.key_id != self.key_id:
            raise PersonalDataErasedError(self.customer_id)
        try:
            plaintext = AESGCM(self.material).decrypt(
                base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), self.associated_data()
            )
        except (InvalidTag, ValueError) as error:  # altered, or sealed for another customer
            raise PersonalDataErasedError(self.customer_id) from error
        return cast("dict[str, Any]", json.loads(plaintext))

    def digest(self, data: dict[str, Any]) -> str:
        """A keyed digest of the data (HMAC-SHA256 under the customer's key): tells a retried request from
        another without putting anything linkable to the data in the log; unverifiable once erased."""
        return hmac.new(self.material, _canonical(data), "sha256").hexdigest()[:32]

    def associated_data(self) -> bytes:
        # Binds the ciphertext to its customer and key: copied onto another customer's record, it fails.
        return json.dumps(["personal-data", self.customer_id, self.key_id]).encode()


class PersonalDataVault:
    """Seals and opens a customer's personal data, and erases it. One per container: it keeps the data keys
    it used recently (plaintext, in memory only).

    Opening trusts a key read within KEY_CACHE_SECONDS (0 requests on a warm container), so an erasure done
    in another container is effective here within that time. Sealing never trusts the cache: it checks the
    customer's key still exists (one consistent GetItem; the KMS call only when the key is not cached), so a
    new order is never sealed under a key another container has just destroyed."""

    def __init__(
        self,
        table_name: str,
        dynamodb: DynamoDBClient,
        kms: KMSClient,
        kms_key_id: str,
        *,
        cache_seconds: float = KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb
        self._kms = kms
        self._kms_key_id = kms_key_id
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._keys: OrderedDict[str, CustomerKey] = OrderedDict()
        self._destroyed: OrderedDict[str, None] = OrderedDict()  # key ids known to be gone
        self._lock = threading.Lock()

    @classmethod
    def from_environment(
        cls, dynamodb: DynamoDBClient, environ: Mapping[str, str] = os.environ
    ) -> PersonalDataVault:
        """The vault the template configures: PERSONAL_DATA_KEYS_TABLE, PERSONAL_DATA_KMS_KEY and, optionally,
        PERSONAL_DATA_KEY_CACHE_SECONDS."""
        return cls(
            environ["PERSONAL_DATA_KEYS_TABLE"],
            dynamodb,
            boto3.client("kms"),
            environ["PERSONAL_DATA_KMS_KEY"],
            cache_seconds=float(environ.get("PERSONAL_DATA_KEY_CACHE_SECONDS", KEY_CACHE_SECONDS)),
        )

    def key_for(self, customer_id: str) -> CustomerKey:
        """The customer's key as it is now (a new one if they have none, e.g. after an erasure)."""
        now = self._clock()
        item = self._item(customer_id)
        if item is None:
            return self._remember(self._create(customer_id, now))
        cached = self._cached(customer_id, now=None)
        if cached is not None and cached.key_id == item["key_id"]["S"]:
            return self._remember(CustomerKey(customer_id, cached.key_id, cached.material, now))
        return self._remember(self._unwrap(customer_id, item, now))

    def open(self, customer_id: str, sealed: SealedData) -> dict[str, Any]:
        """The data, if the customer's key still exists; `PersonalDataErasedError` otherwise."""
        if sealed.key_id in self._destroyed:
            raise PersonalDataErasedError(customer_id)
        now = self._clock()
        key = self._cached(customer_id, now=now)
        if key is None or key.key_id != sealed.key_id:  # not seen lately, or sealed under a newer key
            item = self._item(customer_id)
            if item is None or item["key_id"]["S"] != sealed.key_id:
                self._forget(sealed.key_id)  # key ids are never reused: gone once, gone for good
                raise PersonalDataErasedError(customer_id)
            key = self._remember(self._unwrap(customer_id, item, now))
        return key.open(sealed)

    def erase(self, customer_id: str) -> str | None:
        """Destroy the customer's data key; return its id, or None when there was none (erased before)."""
        with self._lock:
            self._keys.pop(customer_id, None)
        response = self._dynamodb.delete_item(
            TableName=self.table_name, Key={"customer_id": {"S": customer_id}}, ReturnValues="ALL_OLD"
        )
        old = response.get("Attributes")
        if old is None:
            return None
        self._forget(old["key_id"]["S"])
        return old["key_id"]["S"]

    # -- keys ------------------------------------------------------------------------------------------------

    def _cached(self, customer_id: str, *, now: float | None) -> CustomerKey | None:
        """The key kept for the customer: fresh enough to trust (`now` given), or any (saves a KMS call)."""
        with self._lock:
            key = self._keys.get(customer_id)
            if key is None or (now is not None and now - key.read_at >= self._cache_seconds):
                return None
            self._keys.move_to_end(customer_id)
            return key

    def _forget(self, key_id: str) -> None:
        with self._lock:
            self._destroyed[key_id] = None
            while len(self._destroyed) > KEY_CACHE_SIZE:
                self._destroyed.popitem(last=False)

    def _remember(self, key: CustomerKey) -> CustomerKey:
        with self._lock:
            self._keys[key.customer_id] = key
            self._keys.move_to_end(key.customer_id)
            while len(self._keys) > KEY_CACHE_SIZE:
                self._keys.popitem(last=False)
        return key

    def _item(self, customer_id: str) -> dict[str, Any] | None:
        return self._dynamodb.get_item(
            TableName=self.table_name, Key={"customer_id": {"S": customer_id}}, ConsistentRead=True
        ).get("Item")

    def _unwrap(self, customer_id: str, item: dict[str, Any], now: float) -> CustomerKey:
        material = self._kms.decrypt(
            CiphertextBlob=item["wrapped_key"]["B"],
            KeyId=self._kms_key_id,
            EncryptionContext={"customer_id": customer_id},
        )["Plaintext"]
        return CustomerKey(customer_id, item["key_id"]["S"], material, now)

    def _create(self, customer_id: str, now: float) -> CustomerKey:
        """A new data key, generated by KMS, stored wrapped; if another writer stored one first, theirs."""
        generated = self._kms.generate_data_key(
            KeyId=self._kms_key_id, KeySpec="AES_256", EncryptionContext={"customer_id": customer_id}
        )
        key_id = str(uuid.uuid4())
        try:
            self._dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    "customer_id": {"S": customer_id},
                    "key_id": {"S": key_id},
                    "wrapped_key": {"B": generated["CiphertextBlob"]},
                },
                ConditionExpression="attribute_not_exists(customer_id)",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            existing = self._item(customer_id)
            if existing is None:  # erased in between: start again
                return self._create(customer_id, now)
            return self._unwrap(customer_id, existing, now)
        return CustomerKey(customer_id, key_id, generated["Plaintext"], now)


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
