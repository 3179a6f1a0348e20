"""Clicks and opens: written here in batches from the engagement stream (link_clicks and
campaign_opens belong to this service), and read back for the campaign page."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import conflict_insert
from shared.schema import campaign_links, campaign_opens, campaigns, link_clicks, subscribers


@dataclass(frozen=True, slots=True)
class EngagementCount:
    """Clicks (or opens) of one subscriber on one link (or campaign) within a batch."""

    target_id: int  # link id for clicks, campaign id for opens
    subscriber_id: int
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class LinkStatsRow:
    """One tracked link of a campaign with its clicks: residents who clicked, and all clicks."""

    link_id: int
    url: str
    position: int
    unique_clicks: int
    total_clicks: int


async def subscriber_ids_by_key(session: AsyncSession, keys: Collection[str]) -> dict[str, int]:
    """Subscriber ids of the keys that still exist (erased subscribers have none)."""
    if not keys:
        return {}
    result = await session.execute(
        sa.select(subscribers.c.key, subscribers.c.id).where(subscribers.c.key.in_(list(keys)))
    )
    return {str(key): int(subscriber_id) for key, subscriber_id in result.all()}


async def link_campaigns(session: AsyncSession, link_ids: Collection[int]) -> dict[int, int]:
    """The campaign of each link id that exists."""
    if not link_ids:
        return {}
    result = await session.execute(
        sa.select(campaign_links.c.id, campaign_links.c.campaign_id).where(
            campaign_links.c.id.in_(list(link_ids))
        )
    )
    return {int(link_id): int(campaign_id) for link_id, campaign_id in result.all()}


async def existing_campaigns(session: AsyncSession, campaign_ids: Collection[int]) -> set[int]:
    """Which of these campaign ids exist."""
    if not campaign_ids:
        return set()
    result = await session.execute(
        sa.select(campaigns.c.id).where(campaigns.c.id.in_(list(campaign_ids)))
    )
    return {int(campaign_id) for campaign_id in result.scalars()}


def _upsert(session: AsyncSession, table: sa.Table) -> Any:
    return conflict_insert(session.get_bind().dialect.name, table)


def _earliest(session: AsyncSession, a: Any, b: Any) -> Any:
    # SQLite's two-argument min() is PostgreSQL's least().
    return (
        sa.func.least(a, b)
        if session.get_bind().dialect.name == "postgresql"
        else sa.func.min(a, b)
    )


def _latest(session: AsyncSession, a: Any, b: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.greatest(a, b)
    return sa.func.max(a, b)


async def add_clicks(
    session: AsyncSession, clicks: Sequence[EngagementCount], campaign_of: dict[int, int]
) -> None:
    """Add a batch's clicks: a row per (link, subscriber), its count raised by the batch's."""
    rows = [
        {
            "link_id": click.target_id,
            "subscriber_id": click.subscriber_id,
            "campaign_id": campaign_of[click.target_id],
            "clicks": click.count,
            "first_at": click.first_at,
            "last_at": click.last_at,
        }
        for click in clicks
    ]
    await _add_counts(session, link_clicks, ["link_id", "subscriber_id"], "clicks", rows)


async def add_opens(session: AsyncSession, opens: Sequence[EngagementCount]) -> None:
    """Add a batch's opens: a row per (campaign, subscriber), its count raised by the batch's."""
    rows = [
        {
            "campaign_id": item.target_id,
            "subscriber_id": item.subscriber_id,
            "opens": item.count,
            "first_at": item.first_at,
            "last_at": item.last_at,
        }
        for item in opens
    ]
    await _add_counts(session, campaign_opens, ["campaign_id", "subscriber_id"], "opens", rows)


async def _add_counts(
    session: AsyncSession,
    table: sa.Table,
    keys: list[str],
    counter: str,
    rows: list[dict[str, Any]],
) -> None:
    """Upsert ``rows`` into ``table``: a new key's row as given, an existing one's ``counter``
    raised by the row's and its first and last times widened."""
    if not rows:
        return
    statement = _upsert(session, table)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={
            counter: table.c[counter] + excluded[counter],
            "first_at": _earliest(session, table.c.first_at, excluded.first_at),
            "last_at": _latest(session, table.c.last_at, excluded.last_at),
        },
    )
    await session.execute(statement, rows)


async def link_stats(session: AsyncSession, campaign_id: int) -> list[LinkStatsRow]:
    """Every tracked link of a campaign in body order, with unique and total clicks."""
    clicked = (
        sa.select(
            link_clicks.c.link_id,
            sa.func.count().label("unique_clicks"),
            sa.func.sum(link_clicks.c.clicks).label("total_clicks"),
        )
        .where(link_clicks.c.campaign_id == campaign_id)
        .group_by(link_clicks.c.link_id)
        .subquery()
    )
    result = await session.execute(
        sa.select(
            campaign_links.c.id,
            campaign_links.c.url,
            campaign_links.c.position,
            sa.func.coalesce(clicked.c.unique_clicks, 0),
            sa.func.coalesce(clicked.c.total_clicks, 0),
        )
        .outerjoin(clicked, clicked.c.link_id == campaign_links.c.id)
        .where(campaign_links.c.campaign_id == campaign_id)
        .order_by(campaign_links.c.position)
    )
    return [
        LinkStatsRow(int(link_id), str(url), int(position), int(unique), int(total))
        for link_id, url, position, unique, total in result.all()
    ]


async def unique_clickers(session: AsyncSession, campaign_id: int) -> int:
    """How many subscribers clicked at least one of the campaign's links."""
    result = await session.execute(
        sa.select(sa.func.count(sa.distinct(link_clicks.c.subscriber_id))).where(
            link_clicks.c.campaign_id == campaign_id
        )
    )
    return int(result.scalar_one())


async def open_counts(session: AsyncSession, campaign_id: int) -> tuple[int, int]:
    """Subscribers whose client fetched the open pixel, and all fetches."""
    result = await session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(campaign_opens.c.opens), 0)).where(
            campaign_opens.c.campaign_id == campaign_id
        )
    )
    unique, total = result.one()
    return int(unique), int(total)
