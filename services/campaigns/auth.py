"""Staff API tokens: issued once in plaintext, stored only as a SHA-256 digest, with a role."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries, staff_audit
from services.campaigns.errors import N_, InvalidInput, NotAuthenticated, NotFound
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
    last_used_at: datetime | None = None
    staff_user_id: int | None = None


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_role(role: str) -> Role:
    """Return ``role`` if it is one of admin, editor, viewer; else raise InvalidInput."""
    if role not in ROLES:
        raise InvalidInput(N_("unknown role"), {"role": "must be one of admin, editor, viewer"})
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
    _, token = await _insert(session, role, label, staff_user_id)
    await session.commit()
    return token


async def _insert(
    session: AsyncSession, role: str, label: str, staff_user_id: int | None
) -> tuple[int, str]:
    checked = check_role(role)
    if len(label) > 200:
        raise InvalidInput("label too long", {"label": "must be at most 200 characters"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    if staff_user_id is None:
        token_id = await queries.insert_token(session, hash_token(token), checked, label)
    else:
        token_id = await queries.insert_user_token(
            session,
            token_hash=hash_token(token),
            role=checked,
            label=label,
            user_id=staff_user_id,
            now=utcnow(),
        )
    return token_id, token


async def create_for_user(
    session: AsyncSession, actor: str, user_id: int, role: str, label: str = ""
) -> tuple[TokenInfo, str]:
    """Issue a token owned by an active staff user, at most with that user's role; audited.

    Returns the token's listing and its plaintext, which is shown this once.
    """
    owner = (
        await queries.staff_user_by_id(session, user_id) if 0 < user_id <= queries.MAX_ID else None
    )
    if owner is None or not owner["active"]:
        raise InvalidInput(N_("unknown user"), {"user_id": "is not an active staff user"})
    if not role_allows(check_role(str(owner["role"])), check_role(role)):
        raise InvalidInput(N_("role too high"), {"role": "must not exceed the user's own role"})
    token_id, token = await _insert(session, role, label, user_id)
    await staff_audit.record(
        session, actor, "token.create", f"token:{token_id}", {"user": user_id, "role": role}
    )
    await session.commit()
    return next(info for info in await list_tokens(session) if info.id == token_id), token


async def revoke_by(session: AsyncSession, actor: str, token_id: int) -> None:
    """Revoke a live token by id, at once; audited. NotFound when no live token has it."""
    if not 0 < token_id <= queries.MAX_ID or not await queries.revoke_token(
        session, token_id=token_id, token_hash=None
    ):
        raise NotFound("live token", token_id)
    await staff_audit.record(session, actor, "token.revoke", f"token:{token_id}")
    await session.commit()


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
    role = check_role(str(row["role"]))
    owner = await queries.token_owner(session, int(row["id"]))
    if owner is not None:
        if not owner["active"]:
            raise NotAuthenticated("the bearer token's staff user has been deactivated")
        # A user's token never does more than the user now may: a demotion applies at once.
        owner_role = check_role(str(owner["role"]))
        role = role if role_allows(owner_role, role) else owner_role
    await queries.touch_token(session, int(row["id"]), utcnow())
    await session.commit()
    return StaffToken(id=int(row["id"]), role=role, label=row["label"])


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
            last_used_at=aware(row["last_used_at"]) if row["last_used_at"] else None,
            staff_user_id=row["staff_user_id"],
        )
        for row in await queries.all_tokens(session)
    ]
