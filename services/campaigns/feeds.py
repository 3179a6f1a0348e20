"""Member institutions' event feeds: staff register them; a poller in every campaigns replica
fetches each when due (one replica wins each fetch), stores its upcoming events and records
the outcome, so a broken feed is shown with its reason and never stops the poller."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.campaigns import queries
from services.campaigns.errors import N_, FeedError, InvalidInput, NotFound
from services.campaigns.feed_fetch import check_feed_url, fetch_feed
from services.campaigns.feed_parse import parse_feed
from services.campaigns.outbound_tls import verifying_context
from services.campaigns.queries.feeds import FeedRow
from shared.clock import utcnow
from shared.municipalities import find_municipality
from shared.settings import Settings

log = structlog.get_logger(__name__)


async def register_feed(
    session: AsyncSession, site_key: str, url: str, list_slug: str, municipality: str
) -> FeedRow:
    """Register a site's feed with its default topic (list) and municipality; InvalidInput
    naming each bad field. Its first fetch is due at once."""
    errors: dict[str, str] = {}
    site = await queries.site_by_key(session, site_key)
    if site is None:
        errors["site"] = N_("no such member site")
    try:
        url = check_feed_url(url)
    except FeedError as exc:
        errors["url"] = exc.message
    if len(url) > 2000:
        errors["url"] = N_("the address is too long")
    topic = await queries.list_by_slug(session, list_slug)
    if topic is None:
        errors["list"] = N_("no such list")
    place = find_municipality(municipality) if municipality.strip() else None
    if municipality.strip() and place is None:
        errors["municipality"] = N_("no such municipality")
    if errors or site is None or topic is None:
        raise InvalidInput(N_("the feed cannot be registered"), errors)
    feed_id = await queries.insert_feed(
        session,
        site_id=site.id,
        url=url,
        list_id=topic.id,
        municipality=place.id if place else None,
        now=utcnow(),
    )
    if feed_id is None:
        raise InvalidInput(
            N_("the feed cannot be registered"), {"url": N_("this site has this feed already")}
        )
    await session.commit()
    log.info("feed.registered", feed_id=feed_id, site=site_key)
    return await get_feed(session, feed_id)


async def get_feed(session: AsyncSession, feed_id: int) -> FeedRow:
    """One feed; NotFound."""
    feed = await queries.feed_by_id(session, feed_id)
    if feed is None:
        raise NotFound("feed", feed_id)
    return feed


async def remove_feed(session: AsyncSession, feed_id: int) -> None:
    """Delete a feed and its events; NotFound."""
    if not await queries.delete_feed(session, feed_id):
        raise NotFound("feed", feed_id)
    await session.commit()


async def refresh_feed(
    session: AsyncSession, client: httpx.AsyncClient, settings: Settings, feed: FeedRow
) -> str | None:
    """Fetch one feed and store its events; the reason it is broken, or None."""
    now = utcnow()
    try:
        fetched = await fetch_feed(
            client,
            feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
            time_limit=settings.feed_timeout,
            max_bytes=settings.feed_max_bytes,
        )
        if fetched.body is not None:
            # Parsing a large calendar is CPU work: off the event loop.
            found = await asyncio.to_thread(parse_feed, fetched.body, now)
            await queries.replace_events(session, feed, found, now)
    except FeedError as exc:
        await session.rollback()
        await queries.record_fetch(session, feed.id, now, error=exc.message)
        await session.commit()
        log.info("feed.broken", feed_id=feed.id, reason=exc.message)
        return exc.message
    await queries.record_fetch(
        session, feed.id, now, error=None, etag=fetched.etag, last_modified=fetched.last_modified
    )
    await session.commit()
    return None


async def refresh_due(
    session: AsyncSession, client: httpx.AsyncClient, settings: Settings, now: datetime
) -> list[int]:
    """Fetch every feed that is due and that this caller claims; the ids it fetched."""
    fetched: list[int] = []
    next_fetch_at = now + timedelta(seconds=settings.feed_fetch_interval)
    for feed_id in await queries.due_feed_ids(session, now):
        claimed = await queries.claim_feed(session, feed_id, now, next_fetch_at)
        await session.commit()
        feed = await queries.feed_by_id(session, feed_id) if claimed else None
        if feed is not None:
            await refresh_feed(session, client, settings, feed)
            fetched.append(feed_id)
    return fetched


class FeedPoller:
    """The feed polling loop of one replica, started and stopped by the app's lifespan."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self.client = httpx.AsyncClient(
            verify=verifying_context(trust_env=True),
            follow_redirects=False,
            timeout=httpx.Timeout(settings.feed_timeout),
            headers={"User-Agent": "Brevdue event digest"},
        )

    def start(self) -> None:
        """Begin polling."""
        self._task = asyncio.create_task(self._run(), name="feed-poller")

    async def stop(self) -> None:
        """Stop polling and close the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()

    async def poll(self) -> list[int]:
        """One round of due feeds."""
        async with self.sessionmaker() as session:
            return await refresh_due(session, self.client, self.settings, self.clock())

    async def _run(self) -> None:
        while True:
            try:
                fetched = await self.poll()
                if fetched:
                    log.info("feeds.fetched", feeds=fetched)
            except Exception as exc:
                # A database outage or a bug in one feed's data: logged, retried next round.
                log.warning("feeds.poll_failed", error=repr(exc)[:300])
            await asyncio.sleep(self.settings.feed_poll_interval)
