"""Mailing lists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import utcnow
from shared.schema import (
    mailing_lists,
)


async def all_lists(session: AsyncSession) -> Sequence[RowMapping]:
    """Every mailing list, by slug."""
    result = await session.execute(sa.select(mailing_lists).order_by(mailing_lists.c.slug))
    return result.mappings().all()


async def list_by_slug(session: AsyncSession, slug: str) -> RowMapping | None:
    """The mailing list with this slug."""
    result = await session.execute(sa.select(mailing_lists).where(mailing_lists.c.slug == slug))
    return result.mappings().first()


async def insert_list(session: AsyncSession, values: Mapping[str, Any]) -> int:
    """Create a mailing list; return its id."""
    result = await session.execute(
        sa.insert(mailing_lists).values(**values, created_at=utcnow()).returning(mailing_lists.c.id)
    )
    return int(result.scalar_one())


async def update_list(session: AsyncSession, slug: str, values: Mapping[str, Any]) -> bool:
    """Change a mailing list; False when no list has this slug."""
    result = await session.execute(
        sa.update(mailing_lists).where(mailing_lists.c.slug == slug).values(**values)
    )
    return rowcount(result) > 0


async def list_ids_by_slug(session: AsyncSession, slugs: Iterable[str]) -> dict[str, int]:
    """Map each existing slug among ``slugs`` to its list id."""
    result = await session.execute(
        sa.select(mailing_lists.c.slug, mailing_lists.c.id).where(
            mailing_lists.c.slug.in_(list(slugs))
        )
    )
    return {slug: int(list_id) for slug, list_id in result.all()}


async def public_lists_by_slug(session: AsyncSession, slugs: Iterable[str]) -> dict[str, bool]:
    """Map each existing slug among ``slugs`` to whether that list is public."""
    result = await session.execute(
        sa.select(mailing_lists.c.slug, mailing_lists.c.is_public).where(
            mailing_lists.c.slug.in_(list(slugs))
        )
    )
    return {slug: bool(is_public) for slug, is_public in result.all()}
