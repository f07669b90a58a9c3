"""Opaque pagination cursors: a position, tagged with what it pages through, as base64url JSON. Opaque to
clients, not secret: whoever decodes one checks every field (and whose listing it belongs to) before use."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from eventcore.errors import EventCoreError

MAX_CURSOR_LENGTH = 1024


class InvalidCursorError(EventCoreError):
    """A cursor this service did not hand out for this listing: malformed, altered, or from another one."""


def encode_cursor(kind: str, position: dict[str, Any]) -> str:
    text = json.dumps({"k": kind, "p": position}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(kind: str, token: str) -> dict[str, Any]:
    """The position inside a cursor of `kind`; `InvalidCursorError` for anything else."""
    if not token or len(token) > MAX_CURSOR_LENGTH:
        raise InvalidCursorError("empty or too long")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursorError("not a cursor") from exc
    if not isinstance(decoded, dict) or set(decoded) != {"k", "p"} or not isinstance(decoded["p"], dict):
        raise InvalidCursorError("not a cursor")
    if decoded["k"] != kind:
        raise InvalidCursorError(f"a cursor of another listing ({decoded['k']!r})")
    return decoded["p"]
