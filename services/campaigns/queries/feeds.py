"""Event feeds and their events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.feed_parse import ParsedEvent
from shared.clock import aware
from shared.db import conflict_insert
from shared.schema import event_feeds, events, mailing_lists, member_sites


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A registered feed with its site, topic and last outcome."""

    id: int
    site_name: str
    url: str
    list_id: int
    list_slug: str
    municipality: str | None
    status: str
    error: str | None
    etag: str | None
    last_modified: str | None
    fetched_at: datetime | None
    next_fetch_at: datetime
    event_count: int


def _feed_select() -> sa.Select[tuple[object, ...]]:
    counts = (
        sa.select(events.c.feed_id, sa.func.count().label("n"))
        .group_by(events.c.feed_id)
        .subquery()
    )
    return (
        sa.select(
            event_feeds,
            member_sites.c.name.label("site_name"),
            mailing_lists.c.slug.label("list_slug"),
            sa.func.coalesce(counts.c.n, 0).label("event_count"),
        )
        .join(member_sites, member_sites.c.id == event_feeds.c.site_id)
        .join(mailing_lists, mailing_lists.c.id == event_feeds.c.list_id)
        .outerjoin(counts, counts.c.feed_id == event_feeds.c.id)
    )


def _feed(row: sa.RowMapping) -> FeedRow:
    return FeedRow(
        id=int(row["id"]),
        site_name=str(row["site_name"]),
        url=str(row["url"]),
        list_id=int(row["list_id"]),
        list_slug=str(row["list_slug"]),
        municipality=row["municipality"],
        status=str(row["status"]),
        error=row["error"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        fetched_at=aware(row["fetched_at"]) if row["fetched_at"] else None,
        next_fetch_at=aware(row["next_fetch_at"]),
        event_count=int(row["event_count"]),
    )


async def all_feeds(session: AsyncSession) -> list[FeedRow]:
    """Every feed, by site name and address."""
    result = await session.execute(_feed_select().order_by(member_sites.c.name, event_feeds.c.url))
    return [_feed(row) for row in result.mappings()]


async def feed_by_id(session: AsyncSession, feed_id: int) -> FeedRow | None:
    """One feed, or None."""
    result = await session.execute(_feed_select().where(event_feeds.c.id == feed_id))
    row = result.mappings().first()
    return _feed(row) if row else None


async def insert_feed(
    session: AsyncSession,
    *,
    site_id: int,
    url: str,
    list_id: int,
    municipality: str | None,
    now: datetime,
) -> int | None:
    """A new feed, due at once; None when the site has a feed at that address already."""
    insert = conflict_insert(session.get_bind().dialect.name, event_feeds)
    result = await session.execute(
        insert.values(
            site_id=site_id,
            url=url,
            list_id=list_id,
            municipality=municipality,
            status="new",
            next_fetch_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(event_feeds.c.id)
    )
    found = result.scalar()
    return int(found) if found is not None else None


async def delete_feed(session: AsyncSession, feed_id: int) -> bool:
    """Remove a feed and its events; False when there is none."""
    result = await session.execute(sa.delete(event_feeds).where(event_feeds.c.id == feed_id))
    return bool(getattr(result, "rowcount", 0))


async def due_feed_ids(session: AsyncSession, now: datetime, limit: int = 50) -> list[int]:
    """Feeds whose next fetch has come, the longest waiting first."""
    result = await session.execute(
        sa.select(event_feeds.c.id)
        .where(event_feeds.c.next_fetch_at <= now)
        .order_by(event_feeds.c.next_fetch_at)
        .limit(limit)
    )
    return [int(value) for value in result.scalars()]


async def claim_feed(
    session: AsyncSession, feed_id: int, now: datetime, next_fetch_at: datetime
) -> bool:
    """Move a due feed's next fetch on; of replicas claiming it at once, one gets True."""
    result = await session.execute(
        sa.update(event_feeds)
        .where(event_feeds.c.id == feed_id)
        .where(event_feeds.c.next_fetch_at <= now)
        .values(next_fetch_at=next_fetch_at)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_fetch(
    session: AsyncSession,
    feed_id: int,
    now: datetime,
    *,
    error: str | None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    """The outcome of a fetch: ok with the validators for the next, or broken and why."""
    values: dict[str, object] = {
        "fetched_at": now,
        "status": "broken" if error else "ok",
        "error": error,
    }
    if error is None:
        values |= {"etag": etag, "last_modified": last_modified}
    await session.execute(
        sa.update(event_feeds).where(event_feeds.c.id == feed_id).values(**values)
    )


async def replace_events(
    session: AsyncSession,
    feed: FeedRow,
    found: Sequence[ParsedEvent],
    now: datetime,
) -> None:
    """The feed's events become ``found``: rows updated by uid, new ones added, the rest
    (past, cancelled, no longer listed) deleted."""
    insert = conflict_insert(session.get_bind().dialect.name, events)
    for event in found:
        values = {
            "title": event.title,
            "starts_at": event.starts_at,
            "time_zone": event.time_zone,
            "all_day": event.all_day,
            "place": event.place,
            "link": event.link,
            "image_url": event.image_url,
            "list_id": feed.list_id,
            "municipality": feed.municipality,
            "updated_at": now,
        }
        await session.execute(
            insert.values(feed_id=feed.id, uid=event.uid, **values).on_conflict_do_update(
                index_elements=[events.c.feed_id, events.c.uid], set_=values
            )
        )
    await session.execute(
        sa.delete(events).where(events.c.feed_id == feed.id).where(events.c.updated_at != now)
    )
