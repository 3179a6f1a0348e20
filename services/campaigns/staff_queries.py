"""SQL for staff accounts, their API tokens' use and the staff audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import api_tokens, staff_audit, staff_users


async def user_by_email(session: AsyncSession, email: str) -> RowMapping | None:
    """The staff user with this address (compared in lower case), active or not."""
    result = await session.execute(
        sa.select(staff_users).where(sa.func.lower(staff_users.c.email) == email.lower())
    )
    return result.mappings().first()


async def user_by_id(session: AsyncSession, user_id: int) -> RowMapping | None:
    """The staff user with this id, active or not."""
    result = await session.execute(sa.select(staff_users).where(staff_users.c.id == user_id))
    return result.mappings().first()


async def insert_user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: str,
    password_hash: str | None,
    must_change_password: bool,
    now: datetime,
) -> int:
    """Create a staff user; return its id."""
    result = await session.execute(
        sa.insert(staff_users)
        .values(
            email=email,
            name=name,
            role=role,
            password_hash=password_hash,
            must_change_password=must_change_password,
            created_at=now,
        )
        .returning(staff_users.c.id)
    )
    return int(result.scalar_one())


async def update_user(session: AsyncSession, user_id: int, **values: Any) -> bool:
    """Set columns of one staff user; False when there is no such user."""
    result = await session.execute(
        sa.update(staff_users).where(staff_users.c.id == user_id).values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def all_users(session: AsyncSession) -> Sequence[RowMapping]:
    """Every staff user, oldest first."""
    result = await session.execute(sa.select(staff_users).order_by(staff_users.c.id))
    return result.mappings().all()


async def token_owner_active(session: AsyncSession, token_id: int) -> bool:
    """False when the token belongs to a deactivated staff user; True otherwise."""
    result = await session.execute(
        sa.select(staff_users.c.active)
        .select_from(api_tokens.join(staff_users, api_tokens.c.staff_user_id == staff_users.c.id))
        .where(api_tokens.c.id == token_id)
    )
    active = result.scalar_one_or_none()
    return active is None or bool(active)


async def touch_token(session: AsyncSession, token_id: int, now: datetime) -> None:
    """Record that a token was used now."""
    await session.execute(
        sa.update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
    )


async def insert_audit(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    object_ref: str,
    details: dict[str, Any],
) -> int:
    """Append one staff action to the audit trail; return its id."""
    result = await session.execute(
        sa.insert(staff_audit)
        .values(at=at, actor=actor, action=action, object=object_ref, details=details)
        .returning(staff_audit.c.id)
    )
    return int(result.scalar_one())


async def audit_page(
    session: AsyncSession,
    *,
    actor: str | None,
    action: str | None,
    object_ref: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Audit entries matching the filters, newest first, at most ``limit``."""
    query = sa.select(staff_audit).order_by(staff_audit.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(staff_audit.c.actor == actor)
    if action is not None:
        query = query.where(staff_audit.c.action == action)
    if object_ref is not None:
        query = query.where(staff_audit.c.object == object_ref)
    if since is not None:
        query = query.where(staff_audit.c.at >= since)
    if until is not None:
        query = query.where(staff_audit.c.at < until)
    if before_id is not None:
        query = query.where(staff_audit.c.id < before_id)
    result = await session.execute(query)
    return result.mappings().all()


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
