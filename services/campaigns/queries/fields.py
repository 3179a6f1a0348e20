"""Custom subscriber field definitions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import utcnow
from shared.schema import (
    custom_fields,
)


async def all_fields(session: AsyncSession) -> Sequence[RowMapping]:
    """Every custom field definition, oldest first."""
    result = await session.execute(sa.select(custom_fields).order_by(custom_fields.c.id))
    return result.mappings().all()


async def field_by_key(session: AsyncSession, key: str) -> RowMapping | None:
    """The custom field with this key."""
    result = await session.execute(sa.select(custom_fields).where(custom_fields.c.key == key))
    return result.mappings().first()


async def insert_field(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Create a custom field definition."""
    now = utcnow()
    await session.execute(sa.insert(custom_fields).values(**values, created_at=now, updated_at=now))


async def update_field(session: AsyncSession, key: str, values: Mapping[str, Any]) -> bool:
    """Change a custom field definition; False when no field has this key."""
    result = await session.execute(
        sa.update(custom_fields)
        .where(custom_fields.c.key == key)
        .values(**values, updated_at=utcnow())
    )
    return rowcount(result) > 0


async def delete_field(session: AsyncSession, key: str) -> bool:
    """Remove a custom field definition; False when none has this key."""
    result = await session.execute(sa.delete(custom_fields).where(custom_fields.c.key == key))
    return rowcount(result) > 0
