"""Amazon SNS message signatures (how SES bounce and complaint notifications arrive).

SNS signs each HTTP notification with a key whose certificate it publishes at
``SigningCertURL``. We accept certificates only from ``https://sns.<region>.amazonaws.com/``
(fetched over verified TLS), verify SignatureVersion 1 (RSA, SHA-1) and 2 (RSA, SHA-256), and
accept only the topics the operator configured: anyone can create an SNS topic, so a valid
signature alone proves nothing about the sender.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.mailer.errors import WebhookForbidden, WebhookPayloadError, WebhookUnavailable

# Downloads a URL (an SNS signing certificate or a SubscribeURL) and returns the body.
Fetch = Callable[[str], Awaitable[bytes]]

PROVIDER: Final = "ses"
_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com$")
_HASHES: Final[Mapping[str, type[hashes.HashAlgorithm]]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_CONFIRMATION: Final = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_SIGNED: Final[Mapping[str, tuple[str, ...]]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION,
    "UnsubscribeConfirmation": _CONFIRMATION,
}
_MAX_CERTS = 32  # SNS rotates certificates rarely; a small cache is plenty
_MAX_DOWNLOAD = 64 * 1024


def is_sns_url(url: str, *, certificate: bool) -> bool:
    """True for ``https://sns.<region>.amazonaws.com/…`` (a ``.pem`` path for certificates)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or port is not None or parts.username or parts.password:
        return False
    if not _HOST.match(parts.hostname or "") or parts.netloc != parts.hostname:
        return False
    return not certificate or (parts.path.endswith(".pem") and not parts.query)


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical text SNS signs for this message type (AWS's documented format)."""
    names = _SIGNED.get(str(message.get("Type")))
    if names is None:
        raise WebhookPayloadError(PROVIDER, "unknown SNS message type")
    text = []
    for name in names:
        value = message.get(name)
        if name == "Subject" and value is None:
            continue  # optional, and left out of the signed text when absent
        if not isinstance(value, str):
            raise WebhookPayloadError(PROVIDER, f"{name} missing")
        text.append(f"{name}\n{value}\n")
    return "".join(text).encode()


class SnsVerifier:
    """Checks SNS signatures with certificates fetched (and cached) from SigningCertURL."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._keys: dict[str, rsa.RSAPublicKey] = {}

    async def verify(self, message: Mapping[str, Any]) -> None:
        """Raise WebhookForbidden unless ``message`` carries a valid SNS signature."""
        algorithm = _HASHES.get(str(message.get("SignatureVersion")))
        if algorithm is None:
            raise WebhookForbidden(PROVIDER, "unsupported SignatureVersion")
        url = message.get("SigningCertURL")
        if not isinstance(url, str) or not is_sns_url(url, certificate=True):
            raise WebhookForbidden(PROVIDER, "certificate URL is not an SNS URL")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except binascii.Error as exc:
            raise WebhookForbidden(PROVIDER, "signature is not base64") from exc
        key = await self._key(url)
        try:
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
        except InvalidSignature as exc:
            raise WebhookForbidden(PROVIDER, "signature does not verify") from exc

    async def _key(self, url: str) -> rsa.RSAPublicKey:
        key = self._keys.get(url)
        if key is not None:
            return key
        try:
            pem = await self._fetch(url)
        except OSError as exc:
            raise WebhookUnavailable(PROVIDER, "signing certificate not reachable") from exc
        try:
            public = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError as exc:
            raise WebhookForbidden(PROVIDER, "signing certificate unreadable") from exc
        if not isinstance(public, rsa.RSAPublicKey):
            raise WebhookForbidden(PROVIDER, "signing certificate is not RSA")
        if len(self._keys) >= _MAX_CERTS:
            self._keys.clear()
        self._keys[url] = public
        return public


async def fetch_https(url: str) -> bytes:
    """Download ``url`` with certificate verification (the production Fetch)."""

    def download() -> bytes:
        # Only SNS URLs reach here (checked by the callers); urllib verifies TLS by default.
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return bytes(response.read(_MAX_DOWNLOAD))

    return await asyncio.to_thread(download)
