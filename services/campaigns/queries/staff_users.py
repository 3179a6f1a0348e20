"""Staff users created from the command line."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.schema import (
    staff_users,
)


async def staff_user_exists(session: AsyncSession, email: str) -> bool:
    """True when a staff user has this address."""
    result = await session.execute(sa.select(staff_users.c.id).where(staff_users.c.email == email))
    return result.first() is not None


async def insert_staff_user(session: AsyncSession, email: str, name: str, role: str) -> None:
    """Create a staff user."""
    await session.execute(
        sa.insert(staff_users).values(email=email, name=name, role=role, created_at=utcnow())
    )
