"""The staff app in Debian's Chromium: sign-in flow and an axe-core scan of every page.

Needs ``/usr/bin/chromium``; without it the tests skip and say so (no browser download).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from services.campaigns import accounts, throttle
from services.campaigns.admin import create_user, seed_demo
from services.campaigns.app import create_app
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings
from tests.conftest import app_for
from tests.subscriptions.test_browser import pytestmark  # noqa: F401

with contextlib.suppress(ImportError):  # the dev extra installs it
    from axe_playwright_python.async_playwright import Axe
    from playwright.async_api import Browser, Page

NEW_PASSWORD = "en lang og god adgangskode"


@pytest.fixture
async def staff_url(settings: Settings, live_server: Any, redis: Redis) -> AsyncIterator[str]:
    """The campaigns app on a real port, demo data seeded."""
    await seed_demo(settings)
    async with live_server(app_for(create_app, settings)) as server:
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


async def _staff_with_password(settings: Settings, email: str, role: str) -> int:
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        account, _ = await accounts.create_user(session, email, role, password=NEW_PASSWORD)
    await engine.dispose()
    return account.id


async def _sign_in(page: Page, staff_url: str, email: str) -> None:
    await page.goto(staff_url + "/app/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")


async def test_admin_and_password_link_pages_are_accessible_in_every_language(
    chromium: Browser, staff_url: str, settings: Settings
) -> None:
    await _staff_with_password(settings, "boss@example.dk", "admin")
    await _staff_with_password(settings, "ea@example.dk", "editor")
    for lang, users_heading in (("da", "Brugere"), ("sv", "Användare"), ("en", "Users")):
        context = await chromium.new_context(locale=lang)
        page = await context.new_page()
        await page.goto(staff_url + "/app/forgot")
        await assert_accessible(page)
        await page.goto(staff_url + "/app/reset/forged")
        await page.wait_for_selector('[role="alert"]')
        await assert_accessible(page)
        await _sign_in(page, staff_url, "boss@example.dk")
        await page.goto(staff_url + "/app/users")
        assert await page.locator("h1").inner_text() == users_heading
        await assert_accessible(page)
        await page.goto(staff_url + "/app/tokens")
        await page.locator("#token-user").select_option(label="ea@example.dk")
        await page.locator("#token-role").select_option("viewer")
        await page.locator("#token-label").fill(f"ci {lang}")
        await page.locator("form[action='/app/tokens'] button").click()
        await page.wait_for_selector("code.secret")
        await assert_accessible(page)
        await context.close()


async def test_a_viewers_forged_post_is_refused(
    chromium: Browser, staff_url: str, settings: Settings
) -> None:
    viewer_id = await _staff_with_password(settings, "viewer@example.dk", "viewer")
    context = await chromium.new_context(locale="da")
    page = await context.new_page()
    await _sign_in(page, staff_url, "viewer@example.dk")
    assert await page.get_by_role("link", name="Brugere").count() == 0
    assert await page.get_by_role("link", name="API-nøgler").count() == 0
    # The viewer's own session and a valid CSRF token (from the logout form): still refused.
    status = await page.evaluate(
        """async (userId) => {
            const token = document.querySelector('input[name="_csrf_token"]').value;
            const body = new URLSearchParams({role: 'admin', _csrf_token: token});
            const response = await fetch(`/app/users/${userId}/role`, {method: 'POST', body});
            return response.status;
        }""",
        viewer_id,
    )
    assert status == 403
    await page.goto(staff_url + "/app/users")
    assert await page.locator("h1").inner_text() == "Ikke tilladt"
    await context.close()
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        assert (await accounts.get_user(session, viewer_id)).role == "viewer"
    await engine.dispose()
