"""The segment builder in Debian's Chromium: the count follows the rules as they change (htmx),
a row is added with a plain submit, the segment is saved; every page scanned with axe-core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import seed_demo
from services.campaigns.app import create_app
from shared.settings import Settings
from tests.campaigns.staff_support import PASSWORD, create_staff
from tests.campaigns.test_staff_browser import assert_accessible
from tests.conftest import app_for
from tests.subscriptions.test_browser import pytestmark  # noqa: F401
from tests.support.segment_population import build_population

if TYPE_CHECKING:
    from playwright.async_api import Browser


@pytest.fixture
async def staff_url(settings: Settings, live_server: Any, redis: Redis) -> AsyncIterator[str]:
    """The campaigns app on a real port, demo data seeded."""
    await seed_demo(settings)
    async with live_server(app_for(create_app, settings)) as server:
        yield server.url


async def test_building_a_segment_changes_its_count(
    chromium: Browser, staff_url: str, settings: Settings, db: AsyncEngine
) -> None:
    await build_population(db)
    await create_staff(settings, "editor@example.dk", "editor", "Edith")
    context = await chromium.new_context(locale="en")
    page = await context.new_page()
    await page.goto(staff_url + "/app/login")
    await page.locator("#email").fill("editor@example.dk")
    await page.locator("#password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")

    await page.get_by_role("link", name="Segments").click()
    await page.wait_for_url("**/app/segments")
    await assert_accessible(page)
    await page.get_by_role("link", name="New segment").click()
    await page.wait_for_url("**/app/segments/new")
    count = page.locator("#segment-count")
    assert (await count.inner_text()).strip() == "5 residents match now."
    await assert_accessible(page)

    await page.get_by_label("Name").fill("Skåne")
    await page.get_by_label("Field of condition 1").select_option("country")
    await page.get_by_label("Test of condition 1").select_option("any_of")
    await page.get_by_label("Value of condition 1").fill("SE")
    # htmx counts as the rules change, without a page load
    await page.wait_for_function(
        "document.querySelector('#segment-count').innerText.trim() === '2 residents match now.'"
    )
    assert page.url.endswith("/app/segments/new")
    await page.get_by_label("Value of condition 1").fill("SE, xx")
    await page.wait_for_function(
        "document.querySelector('#segment-count').innerText.includes('cannot be counted')"
    )
    await page.get_by_label("Value of condition 1").fill("SE, DK")
    await page.wait_for_function(
        "document.querySelector('#segment-count').innerText.trim() === '4 residents match now.'"
    )

    # a second condition in group 1, which must match none: not those who never clicked
    await page.get_by_role("button", name="Add a condition").click()
    await page.wait_for_selector("#row-2-field")
    await page.get_by_label("Group of condition 2").select_option("1")
    await page.get_by_label("Group 1 matches").select_option("none")
    await page.get_by_label("Field of condition 2").select_option("clicked")
    await page.get_by_label("Test of condition 2").select_option("never")
    await page.wait_for_function(
        "document.querySelector('#segment-count').innerText.trim() === '3 residents match now.'"
    )
    await assert_accessible(page)
    await page.get_by_role("button", name="Save the segment").click()
    await page.wait_for_selector("text=the segment is saved")
    assert (await count.inner_text()).strip() == "3 residents match now."

    await page.goto(staff_url + "/app/segments")
    assert "Skåne" in await page.inner_text("main")
    await context.close()
