"""Staff users: accounts of the staff app, their roles, passwords and active flag."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import utcnow
from shared.schema import staff_users


async def staff_user_exists(session: AsyncSession, email: str) -> bool:
    """True when a staff user has this address."""
    result = await session.execute(sa.select(staff_users.c.id).where(staff_users.c.email == email))
    return result.first() is not None


async def staff_user_by_email(session: AsyncSession, email: str) -> RowMapping | None:
    """The staff user with this address (compared in lower case), active or not."""
    result = await session.execute(
        sa.select(staff_users).where(sa.func.lower(staff_users.c.email) == email.lower())
    )
    return result.mappings().first()


async def staff_user_by_id(session: AsyncSession, user_id: int) -> RowMapping | None:
    """The staff user with this id, active or not."""
    result = await session.execute(sa.select(staff_users).where(staff_users.c.id == user_id))
    return result.mappings().first()


async def insert_staff_user(
    session: AsyncSession,
    email: str,
    name: str,
    role: str,
    *,
    password_hash: str | None = None,
    must_change_password: bool = False,
    now: datetime | None = None,
) -> int:
    """Create a staff user (without a password unless given); return its id."""
    result = await session.execute(
        sa.insert(staff_users)
        .values(
            email=email,
            name=name,
            role=role,
            password_hash=password_hash,
            must_change_password=must_change_password,
            created_at=now or utcnow(),
        )
        .returning(staff_users.c.id)
    )
    return int(result.scalar_one())


async def update_staff_user(session: AsyncSession, user_id: int, **values: Any) -> bool:
    """Set columns of one staff user; False when there is no such user."""
    result = await session.execute(
        sa.update(staff_users).where(staff_users.c.id == user_id).values(**values)
    )
    return rowcount(result) > 0


async def all_staff_users(session: AsyncSession) -> Sequence[RowMapping]:
    """Every staff user, oldest first."""
    result = await session.execute(sa.select(staff_users).order_by(staff_users.c.id))
    return result.mappings().all()
