"""API tokens: staff and service credentials, stored as hashes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import utcnow
from shared.schema import api_tokens, staff_users


async def insert_token(session: AsyncSession, token_hash: str, role: str, label: str) -> int:
    """Store a token's hash; return its id."""
    result = await session.execute(
        sa.insert(api_tokens)
        .values(token_hash=token_hash, role=role, label=label, created_at=utcnow())
        .returning(api_tokens.c.id)
    )
    return int(result.scalar_one())


async def token_by_hash(session: AsyncSession, token_hash: str) -> RowMapping | None:
    """The token row with this hash, revoked or not."""
    result = await session.execute(
        sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash)
    )
    return result.mappings().first()


async def all_tokens(session: AsyncSession) -> Sequence[RowMapping]:
    """Every token row (hashes included), oldest first."""
    result = await session.execute(sa.select(api_tokens).order_by(api_tokens.c.id))
    return result.mappings().all()


async def revoke_token(
    session: AsyncSession, *, token_id: int | None, token_hash: str | None
) -> bool:
    """Mark one live token revoked, by id or by hash; False when none matched."""
    where = (
        api_tokens.c.id == token_id
        if token_id is not None
        else (api_tokens.c.token_hash == token_hash)
    )
    result = await session.execute(
        sa.update(api_tokens)
        .where(where, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return rowcount(result) > 0


async def insert_user_token(
    session: AsyncSession, *, token_hash: str, role: str, label: str, user_id: int, now: datetime
) -> int:
    """Store the hash of a token that belongs to a staff user; return its id."""
    result = await session.execute(
        sa.insert(api_tokens)
        .values(
            token_hash=token_hash, role=role, label=label, staff_user_id=user_id, created_at=now
        )
        .returning(api_tokens.c.id)
    )
    return int(result.scalar_one())


async def token_owner(session: AsyncSession, token_id: int) -> RowMapping | None:
    """The active flag and role of the staff user a token belongs to; None for owner-less ones."""
    result = await session.execute(
        sa.select(staff_users.c.active, staff_users.c.role)
        .select_from(api_tokens.join(staff_users, api_tokens.c.staff_user_id == staff_users.c.id))
        .where(api_tokens.c.id == token_id)
    )
    return result.mappings().first()


async def touch_token(session: AsyncSession, token_id: int, now: datetime) -> None:
    """Record that a token was used now."""
    await session.execute(
        sa.update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
    )
