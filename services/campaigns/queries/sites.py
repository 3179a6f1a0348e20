"""Member sites that embed the sign-up widget."""

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
    member_sites,
)


@dataclass(frozen=True, slots=True)
class SiteRow:
    """A member site as staff manage it."""

    id: int
    key: str
    name: str
    country: str
    municipality: str | None
    allowed_origins: tuple[str, ...]
    default_lists: tuple[str, ...]
    default_language: str
    thank_you_url: str | None
    require_proof_of_work: bool
    asks_municipality: bool
    created_at: datetime


def _site(row: RowMapping) -> SiteRow:
    return SiteRow(
        id=int(row["id"]),
        key=str(row["key"]),
        name=str(row["name"]),
        country=str(row["country"]),
        municipality=row["municipality"],
        allowed_origins=tuple(row["allowed_origins"] or ()),
        default_lists=tuple(row["default_lists"] or ()),
        default_language=str(row["default_language"]),
        thank_you_url=row["thank_you_url"],
        require_proof_of_work=bool(row["require_proof_of_work"]),
        asks_municipality=bool(row["asks_municipality"]),
        created_at=aware(row["created_at"]),
    )


async def site_exists(session: AsyncSession, key: str) -> bool:
    """True when a member site has this key."""
    result = await session.execute(sa.select(member_sites.c.id).where(member_sites.c.key == key))
    return result.first() is not None


async def all_sites(session: AsyncSession) -> list[SiteRow]:
    """Every member site, by key."""
    result = await session.execute(sa.select(member_sites).order_by(member_sites.c.key))
    return [_site(row) for row in result.mappings()]


async def site_by_key(session: AsyncSession, key: str) -> SiteRow | None:
    """The member site with this key."""
    result = await session.execute(sa.select(member_sites).where(member_sites.c.key == key))
    row = result.mappings().first()
    return _site(row) if row is not None else None


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
