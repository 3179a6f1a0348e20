"""Seeding member sites (a campaigns-owned table) for the widget, embed, CORS and PoW tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import member_sites


async def seed_member_site(
    engine: AsyncEngine,
    key: str,
    *,
    origins: Sequence[str] = (),
    default_lists: Sequence[str] = (),
    language: str = "sv",
    thank_you_url: str | None = None,
    proof_of_work: bool = False,
    asks_municipality: bool = False,
    name: str = "Malmö stadsbibliotek",
) -> int:
    """Insert a member site with the given origins and defaults; return its id."""
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.insert(member_sites)
            .values(
                key=key,
                name=name,
                country="SE",
                municipality="se-malmo",
                allowed_origins=list(origins),
                default_lists=list(default_lists),
                default_language=language,
                thank_you_url=thank_you_url,
                require_proof_of_work=proof_of_work,
                asks_municipality=asks_municipality,
                created_at=datetime.now(UTC),
            )
            .returning(member_sites.c.id)
        )
        return int(result.scalar_one())
