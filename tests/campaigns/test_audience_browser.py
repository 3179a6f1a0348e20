"""The lists and subscribers pages in Debian's Chromium, each scanned with axe-core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import seed_demo
from services.campaigns.app import create_app
from shared.settings import Settings
from tests.campaigns.audience_support import add_delivery, add_subscriber, list_id
from tests.campaigns.staff_support import PASSWORD, create_staff
from tests.campaigns.test_staff_browser import assert_accessible
from tests.conftest import app_for
from tests.subscriptions.test_browser import pytestmark  # noqa: F401

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


@pytest.fixture
async def staff_url(settings: Settings, live_server: Any, redis: Redis) -> AsyncIterator[str]:
    """The campaigns app on a real port, demo data seeded."""
    await seed_demo(settings)
    async with live_server(app_for(create_app, settings)) as server:
        yield server.url


async def _sign_in(page: Page, staff_url: str, email: str) -> None:
    await page.goto(staff_url + "/app/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")


async def test_lists_and_subscribers_pages_are_accessible(
    chromium: Browser, staff_url: str, settings: Settings, db: AsyncEngine
) -> None:
    kultur = await list_id(db, "kultur")
    maja = await add_subscriber(
        db,
        "maja@example.org",
        name="Maja",
        lists={kultur: "confirmed"},
        municipality="dk-koebenhavn",
    )
    await add_subscriber(db, "mads@example.org", name="Mads", lists={kultur: "unsubscribed"})
    await add_delivery(db, maja, "Nyt fra kulturen", "failed", "5.1.1 mailbox unknown")
    await create_staff(settings, "boss@example.dk", "admin", "Boss")
    for lang, search_label in (("da", "Søg"), ("sv", "Sök"), ("en", "Search")):
        context = await chromium.new_context(locale=lang)
        page = await context.new_page()
        await _sign_in(page, staff_url, "boss@example.dk")

        await page.goto(staff_url + "/app/lists")
        await assert_accessible(page)
        await page.locator('a[href="/app/lists/kultur"]').click()
        await page.wait_for_url("**/app/lists/kultur")
        assert await page.locator("figure.chart svg").count() == 1
        await assert_accessible(page)

        await page.goto(staff_url + "/app/subscribers")
        await page.get_by_role("searchbox", name=search_label, exact=True).fill("ma")
        # Search as you type: htmx swaps the results in without a page load.
        await page.wait_for_selector(f'#results a[href="/app/subscribers/{maja}"]')
        assert "q=ma" in page.url
        await assert_accessible(page)

        await page.locator(f'#results a[href="/app/subscribers/{maja}"]').click()
        await page.wait_for_url(f"**/app/subscribers/{maja}")
        assert "5.1.1 mailbox unknown" in await page.inner_text("main")
        await assert_accessible(page)
        await page.locator(f'a[href="/app/subscribers/{maja}/erase"]').click()
        await page.wait_for_url(f"**/app/subscribers/{maja}/erase")
        await assert_accessible(page)
        await context.close()


async def test_the_search_works_without_javascript(
    chromium: Browser, staff_url: str, settings: Settings, db: AsyncEngine
) -> None:
    await add_subscriber(db, "ole@example.org", name="Ole")
    await create_staff(settings, "viewer@example.dk", "viewer", "Vera")
    context = await chromium.new_context(locale="en", java_script_enabled=False)
    page = await context.new_page()
    await _sign_in(page, staff_url, "viewer@example.dk")
    await page.goto(staff_url + "/app/subscribers")
    await page.locator("#by").select_option("name")
    await page.locator("#q").fill("OL")
    await page.locator("form.search button").click()
    await page.wait_for_url("**/app/subscribers?q=OL&by=name")
    assert await page.locator("#results a", has_text="ole@example.org").count() == 1
    await context.close()
