"""Signed, purpose-bound tokens for the links in residents' and staff users' mail."""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes, want_bytes

from shared.errors import TokenError, TokenExpired
from shared.settings import Secret


class Purpose(StrEnum):
    """What a token may be used for; each purpose signs with its own salt."""

    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    EXPORT = "export"
    STAFF_INVITE = "staff-invite"  # a new staff user sets a first password
    STAFF_RESET = "staff-reset"  # a staff user who forgot the password sets a new one
    CLICK = "click"  # a tracked link in campaign mail: (link id, subscriber)
    OPEN = "open"  # the open-tracking pixel of a campaign mail: (campaign, subscriber)
    VIEW = "view"  # "view in the browser": a recipient's own copy of a campaign
    GUARDIAN = "guardian"  # a guardian confirms a minor's sign-up: (subscriber, lists)
    AGE_REVIEW = "age-review"  # a resident past the age confirms their own consent


class TokenSigner:
    """Signs and verifies tokens; the last secret key signs, every key verifies."""

    def __init__(
        self, secret_keys: Sequence[Secret], max_ages: dict[Purpose, int | None] | None = None
    ) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        keys = [key.reveal() for key in secret_keys]
        self._serializers = {
            purpose: URLSafeTimedSerializer(keys, salt=f"brevdue.{purpose.value}")
            for purpose in Purpose
        }
        self._max_ages: dict[Purpose, int | None] = dict.fromkeys(Purpose)
        self._max_ages.update(max_ages or {})
        # The mailer signs two tokens per message. itsdangerous builds a signer, derives its key
        # and keys an HMAC for every token; the keyed HMAC of each purpose is made once here and
        # copied per token. The tokens are the very bytes ``dumps`` writes (see sign).
        self._macs: dict[Purpose, tuple[hmac.HMAC, bytes]] = {}
        for purpose, serializer in self._serializers.items():
            signer = serializer.make_signer()
            mac = hmac.new(signer.derive_key(), digestmod=signer.digest_method)
            self._macs[purpose] = (mac, want_bytes(signer.sep))

    def sign(self, purpose: Purpose, payload: Any) -> str:
        """Return a URL-safe token carrying ``payload`` for ``purpose``.

        What ``URLSafeTimedSerializer.dumps`` returns: payload, timestamp and the HMAC of both,
        with the HMAC keyed once per purpose.
        """
        keyed, sep = self._macs[purpose]
        timestamp = base64_encode(int_to_bytes(int(time.time())))
        value = self._serializers[purpose].dump_payload(payload) + sep + timestamp
        mac = keyed.copy()
        mac.update(value)
        return (value + sep + base64_encode(mac.digest())).decode()

    def sign_json(self, purpose: Purpose, compact_json: bytes) -> str:
        """``sign`` for a payload already serialized as compact JSON by the caller.

        Campaign mail signs one click token per link and recipient: skipping the serializer's
        ``json.dumps`` and its zlib attempt keeps that at about a microsecond. The token is one
        ``verify`` reads like any other (an uncompressed payload).
        """
        keyed, sep = self._macs[purpose]
        timestamp = base64_encode(int_to_bytes(int(time.time())))
        value = base64_encode(compact_json) + sep + timestamp
        mac = keyed.copy()
        mac.update(value)
        return (value + sep + base64_encode(mac.digest())).decode()

    def verify(self, purpose: Purpose, token: str) -> Any:
        """Return the payload of a token, or raise TokenError / TokenExpired."""
        try:
            return self._serializers[purpose].loads(token, max_age=self._max_ages[purpose])
        except SignatureExpired as exc:
            raise TokenExpired() from exc
        except (BadSignature, UnicodeError, ValueError) as exc:
            raise TokenError() from exc
