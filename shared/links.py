"""The signed links in residents' mail: the one place their tokens are written and read.

The mailer builds unsubscribe and preference links into campaign mail; the subscriptions
service builds confirm, preference and export links into its own mail and reads every one of
them back. Each payload shape is defined here once, so both sides cannot drift apart. Tokens
are purpose-bound (``shared/tokens.py``): a token of one kind never opens another.

Payloads (JSON inside the signed token):

- confirm: ``[subscriber key, [list ids]]``
- preferences, export: ``[subscriber key]``
- unsubscribe: ``[subscriber key, campaign id, [list ids]]``, the lists the campaign was sent
  to. Mail sent before campaigns named their lists carries ``[subscriber key, campaign id]``;
  such a link still works and means every list, as it did when it was mailed (and so does
  one naming no list).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from shared.errors import TokenError
from shared.tokens import Purpose, TokenSigner

# Real tokens are a few hundred characters; anything much longer is not worth verifying.
MAX_TOKEN_LENGTH: Final = 2048


@dataclass(frozen=True)
class UnsubscribeLink:
    """What an unsubscribe link names: whom, from which campaign, and which lists to leave."""

    subscriber_key: str
    campaign_id: int
    # None: every list (links mailed before campaigns named their lists).
    list_ids: tuple[int, ...] | None


# --- URLs -------------------------------------------------------------------------------------


def confirm_url(public_url: str, token: str) -> str:
    """The public link that confirms a sign-up."""
    return f"{public_url.rstrip('/')}/confirm/{token}"


def unsubscribe_url(public_url: str, token: str) -> str:
    """The public unsubscribe link (also the RFC 8058 one-click target)."""
    return f"{public_url.rstrip('/')}/unsubscribe/{token}"


def preferences_url(public_url: str, token: str) -> str:
    """The public link to a subscriber's preference center."""
    return f"{public_url.rstrip('/')}/preferences/{token}"


def export_url(public_url: str, token: str) -> str:
    """The public link to a self-service data export."""
    return f"{public_url.rstrip('/')}/export/{token}"


# --- writing ----------------------------------------------------------------------------------


def sign_confirm(signer: TokenSigner, subscriber_key: str, list_ids: Collection[int]) -> str:
    """A confirm token for a subscriber's pending lists (ids sorted, so it is canonical)."""
    return signer.sign(Purpose.CONFIRM, [subscriber_key, sorted(list_ids)])


def sign_unsubscribe(
    signer: TokenSigner, subscriber_key: str, campaign_id: int, list_ids: Collection[int]
) -> str:
    """An unsubscribe token that leaves the lists ``campaign_id`` was sent to."""
    return signer.sign(Purpose.UNSUBSCRIBE, [subscriber_key, campaign_id, sorted(list_ids)])


def sign_preferences(signer: TokenSigner, subscriber_key: str) -> str:
    """A preference-center token (never expires)."""
    return signer.sign(Purpose.PREFERENCES, [subscriber_key])


def sign_export(signer: TokenSigner, subscriber_key: str) -> str:
    """An export token; it expires after the signer's EXPORT max age."""
    return signer.sign(Purpose.EXPORT, [subscriber_key])


# --- reading (each raises TokenError, or TokenExpired, when the token is not one) -------------


def read_confirm(signer: TokenSigner, token: str) -> tuple[str, list[int]]:
    """The subscriber key and list ids of a confirm token."""
    key, list_ids = _read(signer, Purpose.CONFIRM, token, tuple[str, list[int]])
    return str(key), [int(list_id) for list_id in list_ids]


def read_unsubscribe(signer: TokenSigner, token: str) -> UnsubscribeLink:
    """What an unsubscribe token names; an old two-part token means every list."""
    payload = _read(signer, Purpose.UNSUBSCRIBE, token, list[Any])
    if len(payload) == 2:
        key, campaign_id = _convert(payload, tuple[str, int])
        return UnsubscribeLink(key, campaign_id, None)
    key, campaign_id, list_ids = _convert(payload, tuple[str, int, list[int]])
    # A link naming no list would leave nothing: rather leave every list than ignore a
    # resident's request.
    return UnsubscribeLink(key, campaign_id, tuple(sorted(set(list_ids))) or None)


def read_preferences(signer: TokenSigner, token: str) -> str:
    """The subscriber key of a preferences token."""
    (key,) = _read(signer, Purpose.PREFERENCES, token, tuple[str])
    return str(key)


def read_export(signer: TokenSigner, token: str) -> str:
    """The subscriber key of an export token."""
    (key,) = _read(signer, Purpose.EXPORT, token, tuple[str])
    return str(key)


def _read(signer: TokenSigner, purpose: Purpose, token: str, shape: Any) -> Any:
    """Verify a token and check its payload's shape."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError()
    return _convert(signer.verify(purpose, token), shape)


def _convert(payload: Any, shape: Any) -> Any:
    try:
        return msgspec.convert(payload, shape)
    except msgspec.ValidationError:
        # Correctly signed but not a payload any version wrote.
        raise TokenError() from None
