"""A list's youth settings in the staff app, in Debian's Chromium, scanned with axe-core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis

from services.campaigns.admin import seed_demo
from services.campaigns.app import create_app
from shared.settings import Settings
from tests.campaigns.staff_support import PASSWORD, create_staff
from tests.campaigns.test_staff_browser import assert_accessible
from tests.conftest import app_for
from tests.subscriptions.test_browser import pytestmark  # noqa: F401

if TYPE_CHECKING:
    from playwright.async_api import Browser


@pytest.fixture
async def staff_url(settings: Settings, live_server: Any, redis: Redis) -> AsyncIterator[str]:
    """The campaigns app on a real port, demo data seeded."""
    await seed_demo(settings)
    async with live_server(app_for(create_app, settings)) as server:
        yield server.url


async def test_an_admin_marks_a_youth_list_accessibly(
    chromium: Browser, staff_url: str, settings: Settings
) -> None:
    await create_staff(settings, "boss@example.dk", "admin", "Boss")
    for lang, youth_label in (("da", "Ungeliste"), ("sv", "Ungdomslista"), ("en", "Youth list")):
        context = await chromium.new_context(locale=lang)
        page = await context.new_page()
        await page.goto(staff_url + "/app/login")
        await page.locator("#email").fill("boss@example.dk")
        await page.locator("#password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/app/")

        await page.goto(staff_url + "/app/lists/boern-unge")
        await assert_accessible(page)
        await page.get_by_label(youth_label, exact=True).check()
        await page.locator("#youth-settings ~ button[type=submit]").click()
        await page.wait_for_selector("#youth:checked")
        await assert_accessible(page)
        await page.goto(staff_url + "/app/lists")
        await assert_accessible(page)
        await context.close()
