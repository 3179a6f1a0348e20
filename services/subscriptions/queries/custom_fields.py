"""Custom field definitions as the public forms read them (the table belongs to campaigns)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import custom_fields


@dataclass(frozen=True, slots=True)
class CustomFieldRow:
    """A staff-defined field residents may fill in (format: shared/custom_fields.py)."""

    key: str
    label_da: str
    label_sv: str
    label_en: str
    type: str
    choices: list[str]
    required: bool
    public: bool
    max_length: int | None


async def get_public_custom_fields(session: AsyncSession) -> list[CustomFieldRow]:
    """Custom field definitions staff allow on public forms, oldest first."""
    return await _custom_fields(session, public_only=True)


async def get_all_custom_fields(session: AsyncSession) -> list[CustomFieldRow]:
    """Every custom field definition, public or not, oldest first (staff imports fill all)."""
    return await _custom_fields(session, public_only=False)


async def _custom_fields(session: AsyncSession, *, public_only: bool) -> list[CustomFieldRow]:
    query = sa.select(
        custom_fields.c.key,
        custom_fields.c.label_da,
        custom_fields.c.label_sv,
        custom_fields.c.label_en,
        custom_fields.c.type,
        custom_fields.c.choices,
        custom_fields.c.required,
        custom_fields.c.public,
        custom_fields.c.max_length,
    ).order_by(custom_fields.c.created_at, custom_fields.c.id)
    if public_only:
        query = query.where(custom_fields.c.public.is_(True))
    return [
        CustomFieldRow(
            key=str(row.key),
            label_da=str(row.label_da),
            label_sv=str(row.label_sv),
            label_en=str(row.label_en),
            type=str(row.type),
            choices=[str(choice) for choice in row.choices or []],
            required=bool(row.required),
            public=bool(row.public),
            max_length=row.max_length,
        )
        for row in await session.execute(query)
    ]
