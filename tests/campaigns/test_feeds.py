"""Event feeds fetched from the suite's own HTTP server: valid iCalendar and RSS, malformed,
huge, slow, redirected, and a feed that changes between fetches."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import feeds
from services.campaigns.admin import seed_demo
from services.campaigns.errors import InvalidInput
from shared.clock import utcnow
from shared.db import create_engine, create_sessionmaker
from shared.schema import event_feeds, events
from shared.settings import Settings
from tests.support.feeds import FeedApp, ics_feed, rss_feed

CPH = ZoneInfo("Europe/Copenhagen")


def _soon(days: int, hour: int = 19) -> datetime:
    return (datetime.now(CPH) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0, tzinfo=None
    )


@pytest.fixture
async def feed_server(live_server: Any) -> AsyncIterator[tuple[FeedApp, str]]:
    app = FeedApp()
    async with live_server(app) as server:
        yield app, server.url


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[AsyncSession]:
    await seed_demo(settings)
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return dataclasses.replace(settings, feed_timeout=1.0, feed_max_bytes=200_000)


async def _refresh_all(session: AsyncSession, settings: Settings) -> list[int]:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return await feeds.refresh_due(session, client, settings, utcnow())


async def _events_of(session: AsyncSession, feed_id: int) -> list[Any]:
    result = await session.execute(
        sa.select(events).where(events.c.feed_id == feed_id).order_by(events.c.starts_at)
    )
    return list(result.mappings())


async def test_valid_ics_and_rss_feeds_store_their_upcoming_events(
    session: AsyncSession, limited: Settings, feed_server: tuple[FeedApp, str]
) -> None:
    app, url = feed_server
    concert = _soon(3)
    app.publish(
        "/valid.ics",
        ics_feed(
            [("c1@museum", "Koncert", concert, "Salen"), ("old@museum", "Gammel", _soon(-3), "X")]
        ),
    )
    talk = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    app.publish("/events.rss", rss_feed([("talk-1", "Foredrag", talk, "Biblioteket")]))
    ics = await feeds.register_feed(
        session, "demo-site", f"{url}/valid.ics", "kultur", "dk-koebenhavn"
    )
    rss = await feeds.register_feed(session, "demo-site", f"{url}/events.rss", "kultur", "se-malmo")

    assert sorted(await _refresh_all(session, limited)) == sorted([ics.id, rss.id])

    [stored] = await _events_of(session, ics.id)  # the past event is left out
    assert stored["uid"] == "c1@museum"
    assert stored["title"] == "Koncert"
    assert stored["place"] == "Salen"
    assert stored["time_zone"] == "Europe/Copenhagen"
    assert stored["municipality"] == "dk-koebenhavn"
    assert stored["link"] == "https://example.org/events/c1@museum"
    starts = stored["starts_at"].replace(tzinfo=stored["starts_at"].tzinfo or UTC)
    assert starts == concert.replace(tzinfo=CPH)
    [item] = await _events_of(session, rss.id)
    assert (item["uid"], item["title"], item["place"]) == ("talk-1", "Foredrag", "Biblioteket")
    assert item["image_url"] == "https://example.org/img/talk-1.jpg"
    assert item["municipality"] == "se-malmo"
    for feed_id in (ics.id, rss.id):
        feed = await feeds.get_feed(session, feed_id)
        assert (feed.status, feed.error) == ("ok", None)
    # Fetched: not due again until the fetch interval has passed.
    assert await _refresh_all(session, limited) == []


async def test_malformed_huge_slow_and_redirected_feeds_are_marked_broken_with_a_reason(
    session: AsyncSession, limited: Settings, feed_server: tuple[FeedApp, str]
) -> None:
    app, url = feed_server
    app.publish("/broken.ics", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nnonsense\r\n")
    app.publish("/page.html", b"<html><body>Our events</body></html>")
    app.publish("/valid.ics", ics_feed([("a@x", "Udstilling", _soon(2), "Hal 1")]))
    registered = {
        path: (await feeds.register_feed(session, "demo-site", f"{url}{path}", "kultur", "")).id
        for path in ("/broken.ics", "/page.html", "/huge", "/slow", "/away", "/missing", "/moved")
    }

    await _refresh_all(session, limited)

    reasons = {path: (await feeds.get_feed(session, i)).error for path, i in registered.items()}
    assert reasons == {
        "/broken.ics": "the feed is not a readable iCalendar file",
        "/page.html": "the feed is neither iCalendar nor RSS or Atom",
        "/huge": "the feed is larger than allowed",
        "/slow": "the feed did not answer in time",
        "/away": "the feed redirects to another host",
        "/missing": "the feed answered with an HTTP error",
        "/moved": None,  # a move within the feed's own host is followed
    }
    for path, feed_id in registered.items():
        assert (await feeds.get_feed(session, feed_id)).status == (
            "ok" if path == "/moved" else "broken"
        )
    assert [row["title"] for row in await _events_of(session, registered["/moved"])] == [
        "Udstilling"
    ]


async def test_a_feed_that_changes_between_fetches(
    session: AsyncSession, limited: Settings, feed_server: tuple[FeedApp, str]
) -> None:
    app, url = feed_server
    first, second = _soon(1), _soon(2)
    app.publish(
        "/cal.ics",
        ics_feed([("a@x", "Koncert", first, "Salen"), ("b@x", "Teater", second, "Scenen")]),
    )
    feed = await feeds.register_feed(session, "demo-site", f"{url}/cal.ics", "kultur", "")
    await feeds.refresh_feed(session, httpx.AsyncClient(), limited, feed)
    assert [row["title"] for row in await _events_of(session, feed.id)] == ["Koncert", "Teater"]

    # Unchanged: the validators go along, the answer is 304 and the events stay.
    feed = await feeds.get_feed(session, feed.id)
    assert (feed.etag, feed.last_modified) == ('"v1"', "Fri, 02 Jan 2026 00:00:00 GMT")
    async with httpx.AsyncClient() as client:
        assert await feeds.refresh_feed(session, client, limited, feed) is None
    path, headers = app.requests[-1]
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Fri, 02 Jan 2026 00:00:00 GMT"
    assert [row["title"] for row in await _events_of(session, feed.id)] == ["Koncert", "Teater"]

    # Changed: one event renamed (same UID), one gone, one new.
    app.publish(
        "/cal.ics",
        ics_feed([("a@x", "Koncert (flyttet)", first, "Salen"), ("c@x", "Film", second, "Bio")]),
    )
    async with httpx.AsyncClient() as client:
        assert await feeds.refresh_feed(session, client, limited, feed) is None
    rows = await _events_of(session, feed.id)
    assert [(row["uid"], row["title"]) for row in rows] == [
        ("a@x", "Koncert (flyttet)"),
        ("c@x", "Film"),
    ]
    assert (await feeds.get_feed(session, feed.id)).etag == '"v2"'


async def test_a_feed_address_must_be_http_or_https(session: AsyncSession) -> None:
    for address in ("file:///etc/passwd", "ftp://example.org/cal.ics", "example.org/cal.ics"):
        with pytest.raises(InvalidInput) as caught:
            await feeds.register_feed(session, "demo-site", address, "kultur", "")
        assert caught.value.errors == {"url": "a feed address must start with http:// or https://"}
    with pytest.raises(InvalidInput) as caught:
        await feeds.register_feed(
            session, "nowhere", "https://example.org/a.ics", "nolist", "Atlantis"
        )
    assert set(caught.value.errors) == {"site", "list", "municipality"}
    assert await session.scalar(sa.select(sa.func.count()).select_from(event_feeds)) == 0
