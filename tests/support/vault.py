"""An in-memory personal data vault for tests that need no AWS: the real sealing (`CustomerKey`, AES-GCM),
keys in a dict. Erasing drops the customer's key, as the real vault deletes its item."""

from __future__ import annotations

import uuid
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventcore.personal_data import CustomerKey, PersonalDataErasedError, SealedData


class InMemoryVault:
    def __init__(self) -> None:
        self.keys: dict[str, CustomerKey] = {}

    def key_for(self, customer_id: str) -> CustomerKey:
        if customer_id not in self.keys:
            material = AESGCM.generate_key(bit_length=256)
            self.keys[customer_id] = CustomerKey(customer_id, str(uuid.uuid4()), material, read_at=0.0)
        return self.keys[customer_id]

    def open(self, customer_id: str, sealed: SealedData) -> dict[str, Any]:
        key = self.keys.get(customer_id)
        if key is None:
            raise PersonalDataErasedError(customer_id)
        return key.open(sealed)

    def erase(self, customer_id: str) -> str | None:
        key = self.keys.pop(customer_id, None)
        return key.key_id if key else None
