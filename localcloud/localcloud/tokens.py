"""Dev tokens like a real issuer's: RS256 JWTs with a `kid`, the issuer's OpenID discovery document and JWKS,
and verification the way API Gateway's JWT and Cognito authorizers do it.

The signing key is made on first use and kept (in the state folder when there is one, so tokens minted
before a restart stay valid). The gateway verifies against the published JWKS only: a token must name a key
the issuer publishes, with RS256, and carry a matching issuer, an audience (`aud`, else `client_id`) the
authorizer accepts, and a valid `exp` and `nbf`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["AuthorizationError", "SigningKey", "TokenIssuer", "discovery_document", "scopes_of"]

TOKEN_LIFETIME_SECONDS = 12 * 3600
CLOCK_SKEW_SECONDS = 0


class AuthorizationError(Exception):
    """A request the authorizer refuses: `status` 401 or 403, `description` as API Gateway words it."""

    def __init__(self, status: int, description: str, scope: str = "") -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.scope = scope

    @property
    def www_authenticate(self) -> str:
        error = "insufficient_scope" if self.status == 403 else "invalid_token"
        return f'Bearer scope="{self.scope}" error="{error}" error_description="{self.description}"'


def _b64url(number: int) -> str:
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKey:
    """An RSA key pair with its JWK and RFC 7638 thumbprint as `kid`."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        numbers = private_key.public_key().public_numbers()
        self.public_jwk = {"kty": "RSA", "n": _b64url(numbers.n), "e": _b64url(numbers.e)}
        canonical = json.dumps({k: self.public_jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()

    @classmethod
    def load_or_create(cls, path: Path | None) -> SigningKey:
        if path is not None and path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            return cls(loaded)
        key = cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = key.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            path.write_bytes(pem)
            path.chmod(0o600)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.public_jwk, "alg": "RS256", "use": "sig", "kid": self.kid}]}


@dataclass
class TokenIssuer:
    """Mints and verifies tokens for every issuer the template's authorizers trust, with one key."""

    key: SigningKey

    def mint(
        self,
        subject: str,
        issuer: str,
        audience: str | None,
        scopes: list[str] | None = None,
        lifetime: int = TOKEN_LIFETIME_SECONDS,
        client_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": subject,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
        if audience is not None:
            claims["aud"] = audience
        if client_id is not None:
            claims["client_id"] = client_id
        if scopes:
            claims["scope"] = " ".join(scopes)
        claims.update(extra or {})
        return jwt.encode(claims, self.key.private_key, algorithm="RS256", headers={"kid": self.key.kid})

    def verify(
        self, token: str, issuers: tuple[str, ...], audiences: tuple[str, ...] | None
    ) -> dict[str, Any]:
        """The claims of a token API Gateway would accept; AuthorizationError(401) saying why not.

        `audiences` None skips the audience check (a Cognito authorizer checks the pool, not the client).
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthorizationError(401, "the token is not a valid JWT") from exc
        if header.get("alg") != "RS256":
            raise AuthorizationError(401, "the token is not signed with RS256")
        keys = {entry["kid"]: entry for entry in self.key.jwks()["keys"]}
        if header.get("kid") not in keys:
            raise AuthorizationError(401, "the token's kid is not in the issuer's JWKS")
        public_key = jwt.PyJWK(keys[header["kid"]]).key
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_iss": False, "require": ["exp"]},
                leeway=CLOCK_SKEW_SECONDS,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthorizationError(401, "the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthorizationError(401, "the token is not valid yet") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthorizationError(401, "the token has no exp claim") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthorizationError(401, "the token signature is invalid") from exc
        if claims.get("iss") not in issuers:
            raise AuthorizationError(401, "the token does not have a valid issuer")
        if audiences is not None:
            # API Gateway evaluates aud when present, client_id only when aud is absent.
            audience = claims.get("aud", claims.get("client_id"))
            offered = audience if isinstance(audience, list) else [audience]
            if not any(item in audiences for item in offered):
                raise AuthorizationError(401, "the token does not have a valid audience")
        return claims


def scopes_of(claims: dict[str, Any]) -> list[str]:
    """The token's scopes: `scope` (space-separated) or `scp` (a list or a string)."""
    scope = claims.get("scope", claims.get("scp"))
    if isinstance(scope, str):
        return scope.split()
    return [str(item) for item in scope] if isinstance(scope, list) else []


def discovery_document(issuer: str, jwks_uri: str) -> dict[str, Any]:
    """The issuer's OpenID Connect discovery document, pointing at the local JWKS."""
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "token", "id_token"],
        "subject_types_supported": ["public"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "scope", "client_id"],
    }
