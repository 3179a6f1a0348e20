"""Member sites as the public side reads them (the table belongs to campaigns)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import (
    member_sites,
)


async def get_site_id(session: AsyncSession, site_key: str) -> int | None:
    """The id of the member site with this key, if there is one."""
    query = sa.select(member_sites.c.id).where(member_sites.c.key == site_key)
    value = (await session.execute(query)).scalar_one_or_none()
    return int(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class SiteRow:
    """A member site as the public side needs it: origins, defaults, proof-of-work flag."""

    id: int
    key: str
    name: str
    allowed_origins: list[str]
    default_lists: list[str]
    default_language: str
    thank_you_url: str | None
    require_proof_of_work: bool
    asks_municipality: bool


async def get_site_by_key(session: AsyncSession, site_key: str) -> SiteRow | None:
    """The member site with this key, if there is one."""
    query = sa.select(
        member_sites.c.id,
        member_sites.c.key,
        member_sites.c.name,
        member_sites.c.allowed_origins,
        member_sites.c.default_lists,
        member_sites.c.default_language,
        member_sites.c.thank_you_url,
        member_sites.c.require_proof_of_work,
        member_sites.c.asks_municipality,
    ).where(member_sites.c.key == site_key)
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return SiteRow(
        id=int(row.id),
        key=str(row.key),
        name=str(row.name),
        allowed_origins=[str(o) for o in row.allowed_origins or [] if isinstance(o, str)],
        default_lists=[str(s) for s in row.default_lists or [] if isinstance(s, str)],
        default_language=str(row.default_language),
        thank_you_url=row.thank_you_url,
        require_proof_of_work=bool(row.require_proof_of_work),
        asks_municipality=bool(row.asks_municipality),
    )


async def get_all_allowed_origins(session: AsyncSession) -> set[str]:
    """Every origin any member site allows (for preflights that do not name a site)."""
    origins: set[str] = set()
    for (values,) in await session.execute(sa.select(member_sites.c.allowed_origins)):
        origins.update(str(value) for value in values or [] if isinstance(value, str))
    return origins


async def any_site_requires_proof_of_work(session: AsyncSession) -> bool:
    """Whether at least one member site asks its sign-ups for a proof of work."""
    query = sa.select(member_sites.c.id).where(member_sites.c.require_proof_of_work).limit(1)
    return (await session.execute(query)).first() is not None


async def get_site_key(session: AsyncSession, site_id: int) -> str | None:
    """The key of a member site by id."""
    query = sa.select(member_sites.c.key).where(member_sites.c.id == site_id)
    value = (await session.execute(query)).scalar_one_or_none()
    return str(value) if value is not None else None
