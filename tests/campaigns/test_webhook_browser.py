"""The webhook pages in Debian's Chromium, each scanned with axe-core: a new webhook with its
secret shown once, a refused address, a test event in the delivery log, disabling."""

from __future__ import annotations

import dataclasses
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
from tests.support.webhook_receiver import WebhookReceiver, verify

if TYPE_CHECKING:
    from playwright.async_api import Browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhooks may call a receiver on 127.0.0.1; deliveries are looked for often."""
    return dataclasses.replace(
        settings, webhook_allow_loopback_http=True, webhook_poll_interval=0.05
    )


@pytest.fixture
async def staff_url(settings: Settings, live_server: Any, redis: Redis) -> AsyncIterator[str]:
    """The campaigns app on a real port, demo data seeded."""
    await seed_demo(settings)
    async with live_server(app_for(create_app, settings)) as server:
        yield server.url


async def test_a_webhook_from_creation_to_test_event_is_accessible(
    chromium: Browser, staff_url: str, settings: Settings, live_server: Any
) -> None:
    await create_staff(settings, "boss@example.dk", "admin", "Boss")
    receiver = WebhookReceiver()
    context = await chromium.new_context(locale="da")
    page = await context.new_page()
    await page.goto(staff_url + "/app/login")
    await page.locator("#email").fill("boss@example.dk")
    await page.locator("#password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")

    async with live_server(receiver) as hooks:
        await page.get_by_role("link", name="Webhooks").click()
        await page.wait_for_selector("text=Ingen webhooks endnu.")
        await assert_accessible(page)

        # Refused: plain http to another host; the page says why, next to the field.
        await page.get_by_label("Adresse (https://)").fill("http://example.org/hook")
        await page.get_by_role("button", name="Opret webhooken").click()
        await page.wait_for_selector("text=http:// er kun til 127.0.0.1")
        await assert_accessible(page)

        await page.get_by_label("Adresse (https://)").fill(f"{hooks.url}/in")
        await page.get_by_label("Beskrivelse").fill("Kulturkalenderen")
        await page.get_by_label("Kampagne sendt").check()
        await page.get_by_role("button", name="Opret webhooken").click()
        secret = (await page.locator("code.secret").inner_text()).strip()
        assert secret.startswith("whsec_")
        await assert_accessible(page)

        await page.get_by_role("link", name="Gå til webhooken og send en testhændelse").click()
        await page.get_by_role("button", name="Send en testhændelse").click()
        await page.wait_for_selector("text=en testhændelse er sat i kø")
        [got] = await receiver.wait_for(1)
        assert verify(secret, got) and got.json()["type"] == "webhook.test"
        await page.reload()
        await page.wait_for_selector("td:has-text('Leveret')")
        await assert_accessible(page)
        assert secret not in await page.content()  # shown once, at creation

        await page.get_by_role("button", name="Deaktivér").click()
        await page.wait_for_selector("text=webhooken er deaktiveret")
        await assert_accessible(page)
        await page.get_by_role("button", name="Aktivér igen").click()
        await page.wait_for_selector("text=webhooken er aktiveret")
    await context.close()
