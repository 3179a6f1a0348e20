"""Digest campaigns: their choice of events, the events on offer, their computed blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import aware
from shared.schema import (
    campaign_digests,
    campaigns,
    digest_blocks,
    event_feeds,
    events,
    member_sites,
)


@dataclass(frozen=True, slots=True)
class DigestChoice:
    """What staff chose for a digest campaign."""

    starts_on: date
    ends_on: date
    list_ids: tuple[int, ...]
    pinned: frozenset[int]
    dropped: frozenset[int]


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event as a digest shows it, with the institution that published it."""

    id: int
    title: str
    starts_at: datetime
    time_zone: str
    all_day: bool
    place: str | None
    link: str | None
    image_url: str | None
    institution: str
    list_id: int
    municipality: str | None


async def digest_choice(session: AsyncSession, campaign_id: int) -> DigestChoice | None:
    """The campaign's digest choice, or None when it is no digest."""
    row = (
        (
            await session.execute(
                sa.select(campaign_digests).where(campaign_digests.c.campaign_id == campaign_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return DigestChoice(
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        list_ids=tuple(int(item) for item in row["list_ids"]),
        pinned=frozenset(int(item) for item in row["pinned"]),
        dropped=frozenset(int(item) for item in row["dropped"]),
    )


async def events_between(
    session: AsyncSession, start: datetime, end: datetime, list_ids: Sequence[int]
) -> list[EventRow]:
    """Events starting in [start, end) on the given topics, by start."""
    result = await session.execute(
        sa.select(events, member_sites.c.name.label("institution"))
        .join(event_feeds, event_feeds.c.id == events.c.feed_id)
        .join(member_sites, member_sites.c.id == event_feeds.c.site_id)
        .where(events.c.starts_at >= start)
        .where(events.c.starts_at < end)
        .where(events.c.list_id.in_(list(list_ids)))
        .order_by(events.c.starts_at, events.c.id)
    )
    return [
        EventRow(
            id=int(row["id"]),
            title=str(row["title"]),
            starts_at=aware(row["starts_at"]),
            time_zone=str(row["time_zone"]),
            all_day=bool(row["all_day"]),
            place=row["place"],
            link=row["link"],
            image_url=row["image_url"],
            institution=str(row["institution"]),
            list_id=int(row["list_id"]),
            municipality=row["municipality"],
        )
        for row in result.mappings()
    ]


async def save_digest(
    session: AsyncSession,
    campaign_id: int,
    choice: DigestChoice,
    blocks: Mapping[tuple[str, str], tuple[str, str]],
    now: datetime,
) -> None:
    """Store the choice and its blocks ((language, municipality) to (html, text)); the
    campaign counts as changed, so the mailer compiles it again."""
    values = {
        "starts_on": choice.starts_on,
        "ends_on": choice.ends_on,
        "list_ids": list(choice.list_ids),
        "pinned": sorted(choice.pinned),
        "dropped": sorted(choice.dropped),
        "updated_at": now,
    }
    await session.execute(
        sa.delete(campaign_digests).where(campaign_digests.c.campaign_id == campaign_id)
    )
    await session.execute(sa.insert(campaign_digests).values(campaign_id=campaign_id, **values))
    await session.execute(
        sa.delete(digest_blocks).where(digest_blocks.c.campaign_id == campaign_id)
    )
    if blocks:
        await session.execute(
            sa.insert(digest_blocks),
            [
                {
                    "campaign_id": campaign_id,
                    "language": language,
                    "municipality": municipality,
                    "html": html,
                    "text": text,
                }
                for (language, municipality), (html, text) in blocks.items()
            ],
        )
    await session.execute(
        sa.update(campaigns).where(campaigns.c.id == campaign_id).values(updated_at=now)
    )


async def digest_block(
    session: AsyncSession, campaign_id: int, language: str, municipality: str
) -> str | None:
    """One stored block's HTML, or None."""
    found = await session.scalar(
        sa.select(digest_blocks.c.html)
        .where(digest_blocks.c.campaign_id == campaign_id)
        .where(digest_blocks.c.language == language)
        .where(digest_blocks.c.municipality == municipality)
    )
    return str(found) if found is not None else None
