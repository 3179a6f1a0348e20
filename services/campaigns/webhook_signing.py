"""Standard Webhooks signatures: per-endpoint secrets and the headers of a signed delivery.

The receiver recomputes HMAC-SHA256 over ``"<webhook-id>.<webhook-timestamp>.<body>"`` with
the secret's decoded bytes and compares it to the ``v1,`` value (see docs/webhooks.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# 24 random bytes: within the 24-64 the Standard Webhooks libraries accept.
SECRET_BYTES: Final = 24


def new_secret() -> str:
    """A fresh endpoint secret, ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A message id, the same on every attempt of one delivery."""
    return "msg_" + secrets.token_urlsafe(18)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt: id, timestamp (each attempt's own) and signature."""
    return {
        "content-type": "application/json",
        "user-agent": "Brevdue-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
