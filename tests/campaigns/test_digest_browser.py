"""The event feeds page and the digest builder in Debian's Chromium, without JavaScript of
their own: a feed registered and fetched, a broken one shown, a digest built with a pinned
and a dropped event, the preview per municipality; every page scanned with axe-core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import feeds
from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app
from shared.clock import utcnow
from shared.db import create_sessionmaker
from shared.settings import Settings
from tests.campaigns.staff_support import PASSWORD, create_staff
from tests.campaigns.test_staff_browser import assert_accessible
from tests.conftest import app_for
from tests.subscriptions.test_browser import pytestmark  # noqa: F401
from tests.support.feeds import FeedApp, ics_feed

if TYPE_CHECKING:
    from playwright.async_api import Browser


CPH = ZoneInfo("Europe/Copenhagen")


@pytest.fixture
async def staff_url(settings: Settings, live_server: Any, redis: Redis) -> AsyncIterator[str]:
    """The campaigns app on a real port, demo data seeded."""
    await seed_demo(settings)
    async with live_server(app_for(create_app, settings)) as server:
        yield server.url


@pytest.fixture
async def feed_server(live_server: Any) -> AsyncIterator[tuple[FeedApp, str]]:
    app = FeedApp()
    async with live_server(app) as server:
        yield app, server.url


async def test_feeds_and_digest_builder_are_accessible(
    chromium: Browser,
    staff_url: str,
    settings: Settings,
    db: AsyncEngine,
    feed_server: tuple[FeedApp, str],
) -> None:
    app, url = feed_server
    evening = datetime.now(CPH).replace(tzinfo=None, hour=19, minute=0, second=0, microsecond=0)
    app.publish(
        "/cal.ics",
        ics_feed(
            [
                ("a@x", "Koncert", evening + timedelta(days=1), "Salen"),
                ("b@x", "Teater", evening + timedelta(days=2), "Scenen"),
                ("c@x", "Film", evening + timedelta(days=3), "Bio"),
            ]
        ),
    )
    token = await create_token(settings, "editor", "digest test")
    async with httpx.AsyncClient(base_url=staff_url, timeout=30) as client:
        created = await client.post(
            "/api/campaigns",
            headers={"Authorization": f"Bearer {token}"},
            json={"subject": "Ugens kultur", "body": "<p>Hej</p>{{ digest }}", "lists": ["kultur"]},
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
    await create_staff(settings, "editor@example.dk", "editor", "Edith")
    context = await chromium.new_context(locale="en")
    page = await context.new_page()
    await page.goto(staff_url + "/app/login")
    await page.locator("#email").fill("editor@example.dk")
    await page.locator("#password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")

    await page.get_by_role("link", name="Event feeds").click()
    await page.wait_for_url("**/app/feeds")
    await assert_accessible(page)
    await page.get_by_label("Feed address").fill("ftp://example.org/cal.ics")
    await page.get_by_role("button", name="Register the feed").click()
    await page.wait_for_selector("#url-errors")
    await assert_accessible(page)
    for path in ("/cal.ics", "/missing.ics"):
        await page.get_by_label("Feed address").fill(f"{url}{path}")
        await page.get_by_label("Municipality of its events (optional)").select_option(
            "dk-koebenhavn"
        )
        await page.get_by_label("Topic (list) of its events").select_option("kultur")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Register the feed").click()
        assert await page.locator("text=the feed is registered").count() == 1
    async with create_sessionmaker(db)() as session, httpx.AsyncClient() as client:
        await feeds.refresh_due(session, client, settings, utcnow())
    await page.goto(staff_url + "/app/feeds")
    assert await page.locator("text=the feed answered with an HTTP error").count() == 1
    await assert_accessible(page)

    await page.goto(f"{staff_url}/app/campaigns/{campaign_id}")
    await page.get_by_role("link", name="Event digest").click()
    await page.wait_for_url(f"**/app/campaigns/{campaign_id}/digest")
    await assert_accessible(page)
    await page.get_by_label("Culture", exact=True).check()
    await page.get_by_role("button", name="Show the events").click()
    await page.wait_for_selector("text=Teater")
    await page.get_by_label("Pin Teater").check()
    await page.get_by_label("Drop Koncert").check()
    await page.get_by_role("button", name="Save the digest").click()
    await page.wait_for_selector("text=the digest is saved")
    preview = page.locator(".digest-preview")
    assert "Highlights" in await preview.inner_text()
    assert "Koncert" not in await preview.inner_text()
    await assert_accessible(page)
    await page.get_by_label("As a reader in").select_option("dk-koebenhavn")
    await page.get_by_role("button", name="Show the preview").click()
    await page.wait_for_url("**preview=dk-koebenhavn**")
    shown = await page.locator(".digest-preview").inner_text()
    assert shown.index("Highlights") < shown.index("Teater") < shown.index("København")
    assert shown.index("København") < shown.index("Film")
    await assert_accessible(page)
    await context.close()
