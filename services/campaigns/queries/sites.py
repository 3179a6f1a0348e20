"""Member sites that embed the sign-up widget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import utcnow
from shared.schema import (
    member_sites,
)


async def site_exists(session: AsyncSession, key: str) -> bool:
    """True when a member site has this key."""
    result = await session.execute(sa.select(member_sites.c.id).where(member_sites.c.key == key))
    return result.first() is not None


async def all_sites(session: AsyncSession) -> Sequence[RowMapping]:
    """Every member site, by key."""
    result = await session.execute(sa.select(member_sites).order_by(member_sites.c.key))
    return result.mappings().all()


async def site_by_key(session: AsyncSession, key: str) -> RowMapping | None:
    """The member site with this key."""
    result = await session.execute(sa.select(member_sites).where(member_sites.c.key == key))
    return result.mappings().first()


async def insert_site(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Create a member site."""
    await session.execute(sa.insert(member_sites).values(**values, created_at=utcnow()))


async def update_site(session: AsyncSession, key: str, values: Mapping[str, Any]) -> bool:
    """Change a member site; False when no site has this key."""
    result = await session.execute(
        sa.update(member_sites).where(member_sites.c.key == key).values(**values)
    )
    return rowcount(result) > 0


async def delete_site(session: AsyncSession, key: str) -> bool:
    """Remove a member site (sign-ups keep their rows, losing the link); False if none."""
    result = await session.execute(sa.delete(member_sites).where(member_sites.c.key == key))
    return rowcount(result) > 0
