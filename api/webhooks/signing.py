"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a receiver checks.

Every delivery carries three headers: `webhook-id` (the same on every retry of one event, so a
receiver dedupes by it), `webhook-timestamp` (Unix seconds of this attempt) and
`webhook-signature`, `v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"`, keyed by the
base64-decoded part of the `whsec_…` secret after its prefix. The timestamp is signed too, so a
captured delivery can't be replayed past the receiver's tolerance (five minutes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
MESSAGE_PREFIX = "msg_"
TOLERANCE_S = 5 * 60

__all__ = [
    "MESSAGE_PREFIX",
    "SECRET_PREFIX",
    "TOLERANCE_S",
    "InvalidSignature",
    "new_message_id",
    "sign",
    "signed_headers",
    "verify",
]


class InvalidSignature(Exception):
    """The delivery is not from the holder of the secret, or is too old or too new."""


def new_message_id() -> str:
    """A fresh `webhook-id`: `msg_` and 24 random URL-safe characters (144 bits)."""
    return MESSAGE_PREFIX + secrets.token_urlsafe(18)


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is whsec_ and base64") from exc
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt: `v1,<base64 HMAC-SHA256>`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secret: str, message_id: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The three headers of one delivery attempt, timestamped `now` (default: the clock)."""
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> None:
    """Raise `InvalidSignature` unless one of the space-separated `v1` signatures matches and
    the timestamp is within `tolerance_s` of `now`. Header names in any case."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (message_id and stamp and signatures):
        raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not whole Unix seconds") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        raise InvalidSignature("webhook-timestamp is outside the tolerance: a replay or a clock")
    expected = sign(secret, message_id, timestamp, body).encode()
    for candidate in signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return
    raise InvalidSignature("no signature matches")
