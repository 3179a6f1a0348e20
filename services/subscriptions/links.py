"""The signed links in residents' mail: building them and reading their tokens back."""

from __future__ import annotations

from typing import Any

import msgspec

from services.subscriptions.errors import InvalidLink
from shared.errors import TokenError, TokenExpired
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner

# Real tokens are a few hundred characters; anything much longer is not worth verifying.
MAX_TOKEN_LENGTH = 2048


def confirm_url(settings: Settings, token: str) -> str:
    """The public link that confirms a sign-up."""
    return f"{settings.subscriptions_public_url}/confirm/{token}"


def preferences_url(settings: Settings, token: str) -> str:
    """The public link to a subscriber's preference center."""
    return f"{settings.subscriptions_public_url}/preferences/{token}"


def export_url(settings: Settings, token: str) -> str:
    """The public link to a self-service data export."""
    return f"{settings.subscriptions_public_url}/export/{token}"


def sign_preferences(signer: TokenSigner, subscriber_key: str) -> str:
    """A preference-center token (never expires); the payload matches the mailer's footer."""
    return signer.sign(Purpose.PREFERENCES, [subscriber_key])


def sign_export(signer: TokenSigner, subscriber_key: str) -> str:
    """An export token; it expires after the signer's EXPORT max age."""
    return signer.sign(Purpose.EXPORT, [subscriber_key])


def read_preferences_token(signer: TokenSigner, token: str) -> str:
    """The subscriber key of a preferences link; raise InvalidLink otherwise."""
    (key,) = _read_token(signer, Purpose.PREFERENCES, token, tuple[str])
    return str(key)


def read_export_token(signer: TokenSigner, token: str) -> str:
    """The subscriber key of an export link; raise InvalidLink otherwise."""
    (key,) = _read_token(signer, Purpose.EXPORT, token, tuple[str])
    return str(key)


def sign_confirm(signer: TokenSigner, subscriber_key: str, list_ids: list[int]) -> str:
    """A confirm token for a subscriber's pending lists (ids sorted, so it is canonical)."""
    return signer.sign(Purpose.CONFIRM, [subscriber_key, sorted(list_ids)])


def read_confirm_token(signer: TokenSigner, token: str) -> tuple[str, list[int]]:
    """The subscriber key and list ids of a confirm link; raise InvalidLink otherwise."""
    key, list_ids = _read_token(signer, Purpose.CONFIRM, token, tuple[str, list[int]])
    return str(key), [int(list_id) for list_id in list_ids]


def read_unsubscribe_token(signer: TokenSigner, token: str) -> tuple[str, int]:
    """The subscriber key and campaign id of an unsubscribe link; raise InvalidLink otherwise."""
    key, campaign_id = _read_token(signer, Purpose.UNSUBSCRIBE, token, tuple[str, int])
    return str(key), int(campaign_id)


def _read_token(signer: TokenSigner, purpose: Purpose, token: str, shape: Any) -> Any:
    """Verify a token and check its payload's shape; raise InvalidLink otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidLink(purpose, "invalid")
    try:
        payload: Any = signer.verify(purpose, token)
    except TokenExpired:
        raise InvalidLink(purpose, "expired") from None
    except TokenError:
        raise InvalidLink(purpose, "invalid") from None
    try:
        return msgspec.convert(payload, shape)
    except msgspec.ValidationError:
        # Correctly signed but not the payload this version writes.
        raise InvalidLink(purpose, "invalid") from None
