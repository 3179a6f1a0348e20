"""Tracked links and open tracking as the public redirect reads them (the mailer owns
campaign_links, the campaigns service owns campaigns)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import campaign_links, campaigns


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """Where a tracked link leads, and the campaign it belongs to."""

    link_id: int
    campaign_id: int
    url: str


async def get_link_target(session: AsyncSession, link_id: int) -> LinkTarget | None:
    """The stored URL of a tracked link, if the link exists."""
    query = sa.select(campaign_links.c.campaign_id, campaign_links.c.url).where(
        campaign_links.c.id == link_id
    )
    row = (await session.execute(query)).first()
    return None if row is None else LinkTarget(link_id, int(row.campaign_id), str(row.url))


async def campaign_tracks_opens(session: AsyncSession, campaign_id: int) -> bool:
    """Whether the campaign exists and tracks opens."""
    query = sa.select(campaigns.c.track_opens).where(campaigns.c.id == campaign_id)
    return bool((await session.execute(query)).scalar_one_or_none())
