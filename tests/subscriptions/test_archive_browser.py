"""The public archive in Debian's Chromium: list index, campaign page with its sandboxed copy,
and the page its generic links lead to, each scanned with axe-core."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.campaigns.test_staff_browser import assert_accessible
from tests.subscriptions.test_archive import _campaign
from tests.subscriptions.test_browser import (  # noqa: F401
    browser,
    pytestmark,
    subscriptions_url,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser


async def test_archive_pages_are_accessible_and_the_copy_runs_no_script(
    browser: Browser,  # noqa: F811
    subscriptions_url: str,  # noqa: F811
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    campaign_id = await _campaign(engine, lists["kultur"], public=True)
    context = await browser.new_context(locale="sv-SE")
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{subscriptions_url}/archive/lists/kultur")
    await assert_accessible(page)
    await page.get_by_role("link", name=f"Nyheter {campaign_id}").click()
    await page.wait_for_selector("iframe")
    assert await page.locator("h1").inner_text() == f"Nyheter {campaign_id}"
    frame = page.frame_locator("iframe")
    assert await frame.locator("p").first.inner_text() == "Hej"
    await assert_accessible(page)
    assert dialogs == []  # the campaign's <script> never ran
    await page.goto(f"{subscriptions_url}/archive/about")
    await assert_accessible(page)
    await context.close()
