"""API schemas of staff users and their tokens (``/api/users``, ``/api/tokens``)."""

from __future__ import annotations

from datetime import datetime

from msgspec import UNSET, Struct, UnsetType

from services.campaigns.accounts import StaffAccount
from services.campaigns.auth import TokenInfo


class UserOut(Struct, kw_only=True):
    """A staff user (never the password)."""

    id: int
    email: str
    name: str
    role: str
    active: bool
    must_change_password: bool
    # The staff app's language the user chose (da, sv, en); null follows the browser.
    language: str | None = None


class UsersOut(Struct, kw_only=True):
    """``GET /api/users``: every staff user, oldest first."""

    users: list[UserOut]


class UserInvite(Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/users``: invite by mail; the link lets them choose a password."""

    email: str
    role: str
    name: str = ""


class UserPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /api/users/{id}``: another role, deactivation (``active: false``), a language."""

    role: str | None = None
    active: bool | None = None
    # da, sv or en for the user's staff app; null to follow the browser again.
    language: str | UnsetType | None = UNSET


class TokenOut(Struct, kw_only=True):
    """An API token as listed: never its secret."""

    id: int
    role: str
    label: str
    user_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokensOut(Struct, kw_only=True):
    """``GET /api/tokens``: every token, oldest first."""

    tokens: list[TokenOut]


class TokenCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/tokens``: a token for a staff user, at most with that user's role."""

    user_id: int
    role: str
    label: str = ""


class TokenCreated(Struct, kw_only=True):
    """The new token: ``token`` is shown this once and never again."""

    token: str
    info: TokenOut


def user_out(account: StaffAccount) -> UserOut:
    """The API form of a staff user."""
    return UserOut(
        id=account.id,
        email=account.email,
        name=account.name,
        role=account.role,
        active=account.active,
        must_change_password=account.must_change_password,
        language=account.language,
    )


def token_out(info: TokenInfo) -> TokenOut:
    """The API form of a token's listing."""
    return TokenOut(
        id=info.id,
        role=info.role,
        label=info.label,
        user_id=info.staff_user_id,
        created_at=info.created_at,
        last_used_at=info.last_used_at,
        revoked_at=info.revoked_at,
    )
