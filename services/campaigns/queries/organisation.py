"""The organisation layout: the one row of settings every campaign layout shows."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.content import Organisation
from services.campaigns.queries.common import rowcount
from shared.clock import utcnow
from shared.schema import organisation_layout

_ROW_ID = 1
_FIELDS = (
    "name",
    "logo_url",
    "postal_address",
    "accent_colour",
    "background_colour",
    "footer_text",
)


async def organisation(session: AsyncSession) -> Organisation | None:
    """The stored organisation layout; None before an admin first saved it."""
    result = await session.execute(
        sa.select(organisation_layout).where(organisation_layout.c.id == _ROW_ID)
    )
    row = result.mappings().first()
    if row is None:
        return None
    return Organisation(**{name: str(row[name]) for name in _FIELDS})


async def save_organisation(session: AsyncSession, value: Organisation) -> None:
    """Store the organisation layout (its one row, created on first save)."""
    values = {name: getattr(value, name) for name in _FIELDS}
    updated = await session.execute(
        sa.update(organisation_layout)
        .where(organisation_layout.c.id == _ROW_ID)
        .values(**values, updated_at=utcnow())
    )
    if rowcount(updated) == 0:
        try:
            async with session.begin_nested():
                await session.execute(
                    sa.insert(organisation_layout).values(id=_ROW_ID, **values, updated_at=utcnow())
                )
        except IntegrityError:
            # Another admin's first save came first: the row is there now.
            await session.execute(
                sa.update(organisation_layout)
                .where(organisation_layout.c.id == _ROW_ID)
                .values(**values, updated_at=utcnow())
            )
