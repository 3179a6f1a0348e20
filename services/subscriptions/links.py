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
