"""The staff app in Debian's Chromium: sign-in flow and an axe-core scan of every page.

Needs ``/usr/bin/chromium``; without it the tests skip and say so (no browser download).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from services.campaigns import throttle
from services.campaigns.admin import create_user, seed_demo
from services.campaigns.app import create_app
from shared.settings import Settings
from tests.subscriptions.test_browser import CHROMIUM, CHROMIUM_ARGS, pytestmark  # noqa: F401

try:
    from axe_playwright_python.async_playwright import Axe
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - the dev extra installs them
    async_playwright = None  # type: ignore[assignment]

NEW_PASSWORD = "en lang og god adgangskode"


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Headless Debian Chromium."""
    assert async_playwright is not None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest.fixture
async def staff_url(settings: Settings, live_server: Any, redis: Redis) -> AsyncIterator[str]:
    """The campaigns app on a real port, demo data seeded."""
    await seed_demo(settings)
    async with live_server(create_app(settings)) as server:
        yield server.url


async def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation on the page."""
    results = await Axe().run(page)
    bad = [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]
    assert not bad, f"{page.url}: {bad}"


async def test_sign_in_flow_is_accessible_in_every_language(
    chromium: Browser, staff_url: str, settings: Settings
) -> None:
    _, one_time = await create_user(settings, "ea@example.dk", "editor", "Ea")
    for lang, heading in (
        ("da", "Log ind i Brevdue"),
        ("sv", "Logga in i Brevdue"),
        ("en", "Log in to Brevdue"),
    ):
        context = await chromium.new_context(locale=lang)
        page = await context.new_page()
        await page.goto(staff_url + "/app/login")
        assert await page.locator("h1").inner_text() == heading
        assert await page.get_attribute("html", "lang") == lang
        await assert_accessible(page)
        await context.close()

    context = await chromium.new_context(locale="da")
    page = await context.new_page()
    await page.goto(staff_url + "/app/login")
    await page.get_by_label("E-mail").fill("ea@example.dk")
    await page.get_by_label("Adgangskode").fill("forkert adgangskode")
    await page.keyboard.press("Enter")
    await page.wait_for_selector('[role="alert"]')
    await assert_accessible(page)

    await page.get_by_label("Adgangskode").fill(one_time)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/password")
    await assert_accessible(page)
    await page.get_by_label("Ny adgangskode").fill(NEW_PASSWORD)
    await page.get_by_label("Gentag den nye adgangskode").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Gem adgangskode").click()
    await page.wait_for_url("**/app/")
    assert "Logget ind som Ea" in await page.inner_text("main")
    assert await page.get_by_role("link", name="Brugere").count() == 0
    await assert_accessible(page)

    await page.get_by_role("button", name="Log ud").click()
    await page.wait_for_url("**/app/login")
    await page.goto(staff_url + "/app/")
    assert page.url.endswith("/app/login")
    await context.close()


async def test_lock_out_message_in_the_browser(
    chromium: Browser, staff_url: str, settings: Settings
) -> None:
    context = await chromium.new_context(locale="en")
    page = await context.new_page()
    for _ in range(throttle.ADDRESS_LIMIT + 1):
        await page.goto(staff_url + "/app/login")
        await page.get_by_label("Email").fill("nobody@example.dk")
        await page.get_by_label("Password").fill("guessing")
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_selector('[role="alert"]')
    assert "Too many failed attempts" in await page.inner_text('[role="alert"]')
    await assert_accessible(page)
    await context.close()
