"""The import pages in Debian's Chromium, each scanned with axe-core; the progress polls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis

from services.campaigns.admin import seed_demo
from services.campaigns.app import create_app
from services.subscriptions import worker
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


async def test_an_import_from_upload_to_result_is_accessible(
    chromium: Browser, staff_url: str, settings: Settings
) -> None:
    await create_staff(settings, "boss@example.dk", "admin", "Boss")
    context = await chromium.new_context(locale="da")
    page = await context.new_page()
    await page.goto(staff_url + "/app/login")
    await page.locator("#email").fill("boss@example.dk")
    await page.locator("#password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")

    await page.goto(staff_url + "/app/import")
    await assert_accessible(page)
    await page.get_by_label("CSV-fil").set_input_files(
        {
            "name": "people.csv",
            "mimeType": "text/csv",
            "buffer": b"email,name\nmaja@example.org,Maja\nbad-address,Bo\n",
        }
    )
    await page.get_by_role("button", name="Upload").click()
    await page.wait_for_selector("text=Import: kolonner og samtykke")
    await assert_accessible(page)
    await page.get_by_label("Retsgrundlag for samtykket").fill("samtykke")
    await page.get_by_label("Hvornår samtykket blev indhentet").fill("oktober 2026")
    await page.get_by_label("Hvordan samtykket blev indhentet").fill("papirliste")
    await page.get_by_label("Hvem erklærer dette (navn og rolle)").fill("Sara Holm")
    await page.get_by_role("button", name="Start importen").click()
    await page.wait_for_selector("#import-progress")
    await assert_accessible(page)

    await worker.run_worker(settings, burst=True)
    # The page polls its progress every two seconds and shows the result without a reload.
    await page.wait_for_selector("text=Hent de linjer", timeout=10_000)
    await assert_accessible(page)
    await context.close()
