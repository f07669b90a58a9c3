"""Dev JWTs: HS256 with a local secret, checked by the gateway as API Gateway's JWT authorizer would."""

from __future__ import annotations

import os
import time
from typing import Any

import jwt

__all__ = ["DEV_SECRET", "mint_token", "verify_token"]

# Not a secret: it only guards a gateway on 127.0.0.1. Overridable so that two clouds can differ.
DEV_SECRET = os.environ.get("LOCALCLOUD_JWT_SECRET", "localcloud-dev-signing-key-not-for-production-use")
TOKEN_LIFETIME_SECONDS = 12 * 3600


def mint_token(
    subject: str,
    issuer: str,
    audience: str,
    scopes: list[str] | None = None,
    lifetime: int = TOKEN_LIFETIME_SECONDS,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, DEV_SECRET, algorithm="HS256")


def verify_token(token: str, issuer: str, audiences: list[str]) -> dict[str, Any]:
    """The token's claims; jwt.InvalidTokenError if signature, issuer, audience or expiry is wrong."""
    return jwt.decode(
        token,
        DEV_SECRET,
        algorithms=["HS256"],
        issuer=issuer,
        audience=audiences,
        options={"require": ["exp"]},
    )
