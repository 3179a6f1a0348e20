"""The public side of click and open tracking: where a short link leads, and the event it leaves.

A short link's token names a ``campaign_links`` id and a subscriber (``shared/links.py``); the
redirect goes to the URL stored for that id and nowhere else, so a tampered or unknown token is
a 404 and never an open redirect. The click is appended to a Redis stream and written to the
database in batches by the campaigns service: the redirect waits for no database write, and a
stored URL is read once per process (links never change).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subscriptions import queries
from services.subscriptions.errors import UnknownTrackedLink
from shared import links
from shared.errors import TokenError
from shared.events import Engagement, LinkClicked, MailOpened, publish_engagement
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)

# Stored URLs held per process; a link's URL never changes once stored.
MAX_LINKS: Final = 10_000
# Whether a campaign tracks opens can change (staff switch it on a draft): cached briefly.
OPENS_TTL: Final = 30.0
MAX_CAMPAIGNS: Final = 1024
# A click is recorded if Redis takes it at once; the resident is never kept waiting for it.
PUBLISH_TIMEOUT: Final = 0.5
# Ids beyond what the database can hold are no links (and would fail the query).
MAX_ID: Final = 2**63 - 1


class TrackingDirectory:
    """Tracked links' URLs and campaigns' open tracking, read from the database and cached."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._links: OrderedDict[int, queries.LinkTarget] = OrderedDict()
        self._opens: dict[int, tuple[float, bool]] = {}

    async def link(self, link_id: int) -> queries.LinkTarget | None:
        """The tracked link with this id, or None when there is none."""
        cached = self._links.get(link_id)
        if cached is not None:
            self._links.move_to_end(link_id)
            return cached
        if not 0 < link_id <= MAX_ID:
            return None
        async with self._sessionmaker() as session:
            target = await queries.get_link_target(session, link_id)
        if target is not None:  # unknown ids are not cached: only signed tokens get here
            self._links[link_id] = target
            while len(self._links) > MAX_LINKS:
                self._links.popitem(last=False)
        return target

    async def tracks_opens(self, campaign_id: int) -> bool:
        """Whether the campaign exists and tracks opens (as of at most OPENS_TTL ago)."""
        now = self._clock()
        cached = self._opens.get(campaign_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        if not 0 < campaign_id <= MAX_ID:
            return False
        async with self._sessionmaker() as session:
            tracks = await queries.campaign_tracks_opens(session, campaign_id)
        if len(self._opens) >= MAX_CAMPAIGNS:
            self._opens.clear()
        self._opens[campaign_id] = (now + OPENS_TTL, tracks)
        return tracks


def _redirectable(url: str) -> bool:
    # The mailer stores only http(s) URLs; checked again so that no row can make us redirect
    # anywhere else (a javascript: or data: URL, a scheme-relative "//host").
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


async def follow_link(
    token: str, *, signer: TokenSigner, directory: TrackingDirectory, redis: Redis
) -> str:
    """The URL a short link leads to, with the click recorded; UnknownTrackedLink when the
    token is not one of ours or names no stored link."""
    try:
        link_id, subscriber_key = links.read_click(signer, token)
    except TokenError:
        raise UnknownTrackedLink() from None
    target = await directory.link(link_id)
    if target is None or not _redirectable(target.url):
        raise UnknownTrackedLink()
    await _record(
        redis, LinkClicked(link_id=link_id, subscriber_key=subscriber_key, at=time.time())
    )
    return target.url


async def record_open(
    token: str, *, signer: TokenSigner, directory: TrackingDirectory, redis: Redis
) -> None:
    """Record an open from a pixel token; UnknownTrackedLink when the token is not one of ours
    or its campaign does not track opens."""
    try:
        campaign_id, subscriber_key = links.read_open(signer, token)
    except TokenError:
        raise UnknownTrackedLink() from None
    if not await directory.tracks_opens(campaign_id):
        raise UnknownTrackedLink()
    await _record(
        redis, MailOpened(campaign_id=campaign_id, subscriber_key=subscriber_key, at=time.time())
    )


async def _record(redis: Redis, event: Engagement) -> None:
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT):
            await publish_engagement(redis, event)
    except (RedisError, OSError, TimeoutError) as exc:
        # The resident still gets where they were going; this click goes uncounted.
        log.warning("tracking.not_recorded", kind=type(event).__name__, error=type(exc).__name__)
