"""The signed links in residents' mail, as this service uses them: tokens are written and read
by ``shared/links.py``; here they get this service's public URL, and a token that is not one
becomes InvalidLink (a 400 page saying why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from services.subscriptions.errors import InvalidLink
from shared import links
from shared.errors import TokenError, TokenExpired
from shared.links import (
    UnsubscribeLink,
    sign_age_review,
    sign_confirm,
    sign_export,
    sign_guardian,
    sign_preferences,
)
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner

__all__ = [
    "UnsubscribeLink",
    "age_review_url",
    "confirm_url",
    "export_url",
    "guardian_url",
    "preferences_url",
    "read_age_review_token",
    "read_confirm_token",
    "read_export_token",
    "read_guardian_token",
    "read_preferences_token",
    "read_unsubscribe_token",
    "sign_age_review",
    "sign_confirm",
    "sign_export",
    "sign_guardian",
    "sign_preferences",
]

T = TypeVar("T")


def confirm_url(settings: Settings, token: str) -> str:
    """The public link that confirms a sign-up."""
    return links.confirm_url(settings.subscriptions_public_url, token)


def guardian_url(settings: Settings, token: str) -> str:
    """The public link a guardian confirms a minor's sign-up with."""
    return links.guardian_url(settings.subscriptions_public_url, token)


def age_review_url(settings: Settings, token: str) -> str:
    """The public link a resident past the age confirms their own consent with."""
    return links.age_review_url(settings.subscriptions_public_url, token)


def preferences_url(settings: Settings, token: str) -> str:
    """The public link to a subscriber's preference center."""
    return links.preferences_url(settings.subscriptions_public_url, token)


def export_url(settings: Settings, token: str) -> str:
    """The public link to a self-service data export."""
    return links.export_url(settings.subscriptions_public_url, token)


def read_preferences_token(signer: TokenSigner, token: str) -> str:
    """The subscriber key of a preferences link; raise InvalidLink otherwise."""
    return _read(Purpose.PREFERENCES, links.read_preferences, signer, token)


def read_export_token(signer: TokenSigner, token: str) -> str:
    """The subscriber key of an export link; raise InvalidLink otherwise."""
    return _read(Purpose.EXPORT, links.read_export, signer, token)


def read_confirm_token(signer: TokenSigner, token: str) -> tuple[str, list[int]]:
    """The subscriber key and list ids of a confirm link; raise InvalidLink otherwise."""
    return _read(Purpose.CONFIRM, links.read_confirm, signer, token)


def read_guardian_token(signer: TokenSigner, token: str) -> tuple[str, list[int]]:
    """The subscriber key and list ids of a guardian's link; raise InvalidLink otherwise."""
    return _read(Purpose.GUARDIAN, links.read_guardian, signer, token)


def read_age_review_token(signer: TokenSigner, token: str) -> str:
    """The subscriber key of an age review link; raise InvalidLink otherwise."""
    return _read(Purpose.AGE_REVIEW, links.read_age_review, signer, token)


def read_unsubscribe_token(signer: TokenSigner, token: str) -> UnsubscribeLink:
    """Whom and which lists an unsubscribe link names; raise InvalidLink otherwise."""
    return _read(Purpose.UNSUBSCRIBE, links.read_unsubscribe, signer, token)


def _read(
    purpose: Purpose, read: Callable[[TokenSigner, str], T], signer: TokenSigner, token: str
) -> T:
    try:
        return read(signer, token)
    except TokenExpired:
        raise InvalidLink(purpose, "expired") from None
    except TokenError:
        raise InvalidLink(purpose, "invalid") from None
