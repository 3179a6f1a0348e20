"""The staff app's event feed pages and digest builder over real HTTP: registering a feed, a
broken one shown with its reason in the page's language, building and saving a digest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import feeds
from shared.clock import utcnow
from shared.db import create_sessionmaker
from shared.schema import campaign_digests, digest_blocks, events, mailing_lists
from shared.settings import Settings
from tests.campaigns.conftest import Api, new_campaign
from tests.campaigns.staff_support import csrf_token, post_form, sign_in_as
from tests.support.feeds import FeedApp, ics_feed

CPH = ZoneInfo("Europe/Copenhagen")


@pytest.fixture
async def feed_server(live_server: Any) -> AsyncIterator[tuple[FeedApp, str]]:
    app = FeedApp()
    async with live_server(app) as server:
        yield app, server.url


@pytest.fixture
async def browser(api: Api, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=str(api.client.base_url), timeout=20) as client:
        await sign_in_as(client, settings, "editor")
        yield client


async def _fetch_all(db: AsyncEngine, settings: Settings) -> None:
    async with create_sessionmaker(db)() as session, httpx.AsyncClient() as client:
        await feeds.refresh_due(session, client, settings, utcnow())


async def test_registering_feeds_and_a_broken_one_shown_with_its_reason(
    browser: httpx.AsyncClient,
    db: AsyncEngine,
    settings: Settings,
    feed_server: tuple[FeedApp, str],
) -> None:
    app, url = feed_server
    app.publish(
        "/cal.ics",
        ics_feed(
            [
                (
                    "a@x",
                    "Koncert",
                    datetime.now(CPH).replace(tzinfo=None) + timedelta(days=2),
                    "Salen",
                )
            ]
        ),
    )
    refused = await post_form(
        browser,
        "/app/feeds",
        "/app/feeds",
        site="demo-site",
        url="javascript:alert(1)",
        list="kultur",
        municipality="",
    )
    assert refused.status_code == 422
    assert "en feedadresse skal begynde med http:// eller https://" in refused.text
    assert 'aria-invalid="true"' in refused.text
    for path in ("/cal.ics", "/gone.ics"):
        created = await post_form(
            browser,
            "/app/feeds",
            "/app/feeds",
            site="demo-site",
            url=f"{url}{path}",
            list="kultur",
            municipality="dk-koebenhavn",
        )
        assert created.status_code == 200, created.text
        assert "feedet er registreret" in created.text
    page = await browser.get("/app/feeds")
    assert page.text.count("Ikke hentet endnu") == 2

    await _fetch_all(db, settings)

    swedish = await browser.get("/app/feeds", headers={"Accept-Language": "sv"})
    assert "Fungerar" in swedish.text
    assert "Fungerar inte</strong>: flödet svarade med ett HTTP-fel" in swedish.text
    assert "København" in swedish.text


async def test_a_viewer_sees_feeds_but_cannot_register_one(api: Api, settings: Settings) -> None:
    async with httpx.AsyncClient(base_url=str(api.client.base_url), timeout=20) as client:
        await sign_in_as(client, settings, "viewer")
        page = await client.get("/app/feeds")
        assert page.status_code == 200
        assert "Nyt arrangementsfeed" not in page.text
        refused = await client.post(
            "/app/feeds", data={"url": "https://example.org/a.ics", "_csrf_token": csrf_token(page)}
        )
        assert refused.status_code == 403


async def test_building_a_digest_with_pins_and_drops(
    api: Api,
    browser: httpx.AsyncClient,
    db: AsyncEngine,
    settings: Settings,
    feed_server: tuple[FeedApp, str],
) -> None:
    app, url = feed_server
    soon = datetime.now(CPH).replace(tzinfo=None, hour=19, minute=0, second=0, microsecond=0)
    app.publish(
        "/cal.ics",
        ics_feed(
            [
                ("a@x", "Koncert", soon + timedelta(days=1), "Salen"),
                ("b@x", "Teater", soon + timedelta(days=2), "Scenen"),
            ]
        ),
    )
    async with create_sessionmaker(db)() as session:
        await feeds.register_feed(session, "demo-site", f"{url}/cal.ics", "kultur", "dk-koebenhavn")
    await _fetch_all(db, settings)
    campaign = await new_campaign(api, body="<p>Hej</p>")
    path = f"/app/campaigns/{campaign['id']}/digest"
    async with db.connect() as conn:
        kultur = (
            await conn.execute(
                sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == "kultur")
            )
        ).scalar_one()
        ids = {row.uid: row.id for row in await conn.execute(sa.select(events.c.uid, events.c.id))}

    page = await browser.get(path)
    assert page.status_code == 200
    assert "Kampagnens tekst har endnu ingen {{ digest }}" in page.text
    assert "Ingen arrangementer" in page.text
    today = datetime.now(CPH).date()
    period = {"starts_on": today.isoformat(), "ends_on": (today + timedelta(days=6)).isoformat()}

    shown = await post_form(browser, path, path, **period, lists=str(kultur), action="show")
    assert shown.status_code == 200, shown.text
    assert "Koncert" in shown.text and "Teater" in shown.text
    assert not (await (await db.connect()).execute(sa.select(campaign_digests))).first()

    saved = await post_form(
        browser,
        path,
        path,
        **period,
        lists=str(kultur),
        pinned=str(ids["b@x"]),
        dropped=str(ids["a@x"]),
        action="save",
    )
    assert saved.status_code == 200, saved.text
    assert "oversigten er gemt" in saved.text
    preview = saved.text.split('class="digest-preview"')[1]
    assert "Teater" in preview and "Fremhævet" in preview and "Koncert" not in preview
    async with db.connect() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(digest_blocks))
        ).scalar() == 6

    wrong = await post_form(browser, path, path, starts_on="tomorrow", ends_on="", action="save")
    assert wrong.status_code == 422
    assert "angiv en dato som ÅÅÅÅ-MM-DD" in wrong.text
    missing = await browser.get("/app/campaigns/999999/digest")
    assert missing.status_code == 404
