"""Mailing lists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import aware, utcnow
from shared.schema import (
    mailing_lists,
)


@dataclass(frozen=True, slots=True)
class ListRow:
    """A mailing list as staff manage it: texts one column per language, welcome mail included."""

    id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str
    description_da: str
    description_sv: str
    description_en: str
    is_public: bool
    double_optin: bool
    created_at: datetime
    welcome_subject_da: str | None
    welcome_subject_sv: str | None
    welcome_subject_en: str | None
    welcome_body_da: str | None
    welcome_body_sv: str | None
    welcome_body_en: str | None
    youth: bool = False
    youth_fields: tuple[str, ...] = ()


def _list(row: RowMapping) -> ListRow:
    return ListRow(
        id=int(row["id"]),
        slug=str(row["slug"]),
        name_da=str(row["name_da"]),
        name_sv=str(row["name_sv"]),
        name_en=str(row["name_en"]),
        description_da=str(row["description_da"]),
        description_sv=str(row["description_sv"]),
        description_en=str(row["description_en"]),
        is_public=bool(row["is_public"]),
        double_optin=bool(row["double_optin"]),
        created_at=aware(row["created_at"]),
        welcome_subject_da=row["welcome_subject_da"],
        welcome_subject_sv=row["welcome_subject_sv"],
        welcome_subject_en=row["welcome_subject_en"],
        welcome_body_da=row["welcome_body_da"],
        welcome_body_sv=row["welcome_body_sv"],
        welcome_body_en=row["welcome_body_en"],
        youth=bool(row["youth"]),
        youth_fields=tuple(row["youth_fields"] or ()),
    )


async def all_lists(session: AsyncSession) -> list[ListRow]:
    """Every mailing list, by slug."""
    result = await session.execute(sa.select(mailing_lists).order_by(mailing_lists.c.slug))
    return [_list(row) for row in result.mappings()]


async def list_by_slug(session: AsyncSession, slug: str) -> ListRow | None:
    """The mailing list with this slug."""
    result = await session.execute(sa.select(mailing_lists).where(mailing_lists.c.slug == slug))
    row = result.mappings().first()
    return _list(row) if row is not None else None


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
