"""Custom subscriber field definitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import aware, utcnow
from shared.schema import (
    custom_fields,
)


@dataclass(frozen=True, slots=True)
class FieldRow:
    """A custom field definition, its labels one column per language."""

    id: int
    key: str
    label_da: str
    label_sv: str
    label_en: str
    type: str
    choices: tuple[str, ...]
    required: bool
    public: bool
    max_length: int | None
    created_at: datetime
    updated_at: datetime


def _field(row: RowMapping) -> FieldRow:
    return FieldRow(
        id=int(row["id"]),
        key=str(row["key"]),
        label_da=str(row["label_da"]),
        label_sv=str(row["label_sv"]),
        label_en=str(row["label_en"]),
        type=str(row["type"]),
        choices=tuple(row["choices"] or ()),
        required=bool(row["required"]),
        public=bool(row["public"]),
        max_length=int(row["max_length"]) if row["max_length"] is not None else None,
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
    )


async def all_fields(session: AsyncSession) -> list[FieldRow]:
    """Every custom field definition, oldest first."""
    result = await session.execute(sa.select(custom_fields).order_by(custom_fields.c.id))
    return [_field(row) for row in result.mappings()]


async def field_by_key(session: AsyncSession, key: str) -> FieldRow | None:
    """The custom field with this key."""
    result = await session.execute(sa.select(custom_fields).where(custom_fields.c.key == key))
    row = result.mappings().first()
    return _field(row) if row is not None else None


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
