"""Staff API tokens: issued once in plaintext, stored only as a SHA-256 digest, with a role."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.errors import InvalidInput, NotAuthenticated
from shared.clock import aware, utcnow

Role = Literal["viewer", "editor", "admin"]

TOKEN_PREFIX: Final = "bdv_"  # noqa: S105 - a marker, not a secret
# Ascending privilege: each role may do everything the roles before it may.
ROLES: Final[tuple[Role, ...]] = ("viewer", "editor", "admin")
# token_urlsafe(32) gives 43 characters; anything far longer is not one of ours.
_MAX_TOKEN_LENGTH: Final = 128


@dataclass(frozen=True)
class StaffToken:
    """The authenticated caller: which token, with which role."""

    id: int
    role: Role
    label: str


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as the command line lists it (never the secret)."""

    id: int
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_role(role: str) -> Role:
    """Return ``role`` if it is one of admin, editor, viewer; else raise InvalidInput."""
    if role not in ROLES:
        raise InvalidInput("unknown role", {"role": "must be one of admin, editor, viewer"})
    return role


def role_allows(actual: Role, required: Role) -> bool:
    """True when a token with role ``actual`` may do what needs ``required``."""
    return ROLES.index(actual) >= ROLES.index(required)


async def issue_token(
    session: AsyncSession, role: str, label: str = "", staff_user_id: int | None = None
) -> str:
    """Create a token and return its plaintext; only its digest is kept.

    A token issued for a staff user stops working when that user is deactivated.
    """
    checked = check_role(role)
    if len(label) > 200:
        raise InvalidInput("label too long", {"label": "must be at most 200 characters"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    if staff_user_id is None:
        await queries.insert_token(session, hash_token(token), checked, label)
    else:
        await queries.insert_user_token(
            session,
            token_hash=hash_token(token),
            role=checked,
            label=label,
            user_id=staff_user_id,
            now=utcnow(),
        )
    await session.commit()
    return token


async def authenticate(session: AsyncSession, presented: str) -> StaffToken:
    """The live token matching ``presented``; raise NotAuthenticated otherwise."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > _MAX_TOKEN_LENGTH:
        raise NotAuthenticated("the bearer token is not valid")
    # Looking up by digest means no secret is ever compared byte by byte against input;
    # compare_digest below only guards against a lookup that matched loosely.
    digest = hash_token(presented)
    row = await queries.token_by_hash(session, digest)
    if row is None or not hmac.compare_digest(str(row["token_hash"]), digest):
        raise NotAuthenticated("the bearer token is not valid")
    if row["revoked_at"] is not None:
        raise NotAuthenticated("the bearer token has been revoked")
    if not await queries.token_owner_active(session, int(row["id"])):
        raise NotAuthenticated("the bearer token's staff user has been deactivated")
    await queries.touch_token(session, int(row["id"]), utcnow())
    await session.commit()
    return StaffToken(id=int(row["id"]), role=check_role(str(row["role"])), label=row["label"])


async def revoke(session: AsyncSession, token_or_id: str | int) -> bool:
    """Revoke a token given its id or its plaintext; False when no live token matched."""
    if isinstance(token_or_id, int) or token_or_id.isdigit():
        if not 0 < int(token_or_id) <= queries.MAX_ID:
            return False
        done = await queries.revoke_token(session, token_id=int(token_or_id), token_hash=None)
    else:
        done = await queries.revoke_token(
            session, token_id=None, token_hash=hash_token(token_or_id)
        )
    await session.commit()
    return done


async def list_tokens(session: AsyncSession) -> list[TokenInfo]:
    """Every token, oldest first, without secrets."""
    return [
        TokenInfo(
            id=int(row["id"]),
            role=str(row["role"]),
            label=str(row["label"]),
            created_at=aware(row["created_at"]),
            revoked_at=aware(row["revoked_at"]) if row["revoked_at"] else None,
        )
        for row in await queries.all_tokens(session)
    ]
