"""A campaign's tracked links (campaign_links): one id per distinct URL of its body."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.mailer.queries.common import insert_ignoring
from shared.schema import campaign_links


async def ensure_links(
    conn: AsyncConnection, campaign_id: int, urls: Sequence[str]
) -> dict[str, int]:
    """The link id of each URL, storing the ones the campaign has no row for yet.

    Idempotent across processes: each process derives the same URLs in the same order, and
    rows go in with ON CONFLICT DO NOTHING on (campaign, position), so a second process (or a
    restart) finds the first one's rows and adds none.
    """
    if not urls:
        return {}
    known, first = await _links_of(conn, campaign_id)
    missing = [url for url in urls if url not in known]
    if missing:
        statement = insert_ignoring(conn, campaign_links).on_conflict_do_nothing(
            index_elements=["campaign_id", "position"]
        )
        await conn.execute(
            statement,
            [
                {"campaign_id": campaign_id, "url": url, "position": first + offset}
                for offset, url in enumerate(missing)
            ],
        )
        known, _next = await _links_of(conn, campaign_id)
    return {url: known[url] for url in urls if url in known}


async def _links_of(conn: AsyncConnection, campaign_id: int) -> tuple[dict[str, int], int]:
    """The campaign's link ids by URL, and the position a new link would take."""
    result = await conn.execute(
        sa.select(campaign_links.c.url, campaign_links.c.id, campaign_links.c.position)
        .where(campaign_links.c.campaign_id == campaign_id)
        .order_by(campaign_links.c.position)
    )
    links: dict[str, int] = {}
    following = 0
    for url, link_id, position in result.all():
        links.setdefault(str(url), int(link_id))
        following = int(position) + 1
    return links, following
