"""The overview, member site, custom field and audit log pages in Debian's Chromium: an
axe-core scan of each, a site created through its form, and the snippet copy button."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.settings import Settings
from tests.campaigns.test_dashboard import Seed
from tests.campaigns.test_staff_browser import (  # noqa: F401 - fixtures
    _sign_in,
    _staff_with_password,
    assert_accessible,
    staff_url,
)
from tests.subscriptions.test_browser import pytestmark  # noqa: F401 - skips without Chromium


async def _seeded(db: AsyncEngine) -> None:
    seed = Seed(db)
    now = datetime.now(UTC)
    await seed.resident(None, {"kultur": ("confirmed", now)})
    await seed.campaign("Efterårets program", "sending", recipients=4, ledger={"sent": 2})
    await seed.campaign("Vinterens program", "scheduled")
    await seed.campaign(
        "Sommerens program",
        "sending",
        recipients=2,
        run_state="done",
        finished=now,
        ledger={"sent": 1, "bounced": 1},
    )


async def test_dashboard_pages_are_accessible_and_the_copy_button_speaks(
    chromium: Browser,  # noqa: F811 - the fixture
    staff_url: str,  # noqa: F811 - the fixture
    settings: Settings,
    db: AsyncEngine,
) -> None:
    await _staff_with_password(settings, "boss@example.dk", "admin")
    await _seeded(db)
    for lang, copied in (
        ("en", "Copied: Script widget"),
        ("da", "Kopieret: Script-widget"),
        ("sv", "Kopierat: Skriptwidget"),
    ):
        context = await chromium.new_context(locale=lang)
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=staff_url)
        page = await context.new_page()
        page.set_default_timeout(60_000)  # the machine may be busy; nothing here is slow
        await _sign_in(page, staff_url, "boss@example.dk")
        main = await page.inner_text("main")
        assert "Efterårets program" in main and "Sommerens program" in main
        assert await page.locator("figure.chart svg").count() == 3
        await assert_accessible(page)

        await page.goto(staff_url + "/app/sites")
        await assert_accessible(page)
        key = f"site-{lang}"
        await page.locator("#site-key").fill(key)
        await page.locator("#site-name").fill(f"Kulturhuset {lang}")
        await page.locator("#site-origins").fill("https://kultur.example.dk\nnot an origin")
        async with page.expect_navigation():
            await page.locator("form[action='/app/sites'] button[type=submit]").click()
        await page.wait_for_selector('[role="alert"]')
        assert await page.locator("#site-origins").get_attribute("aria-invalid") == "true"
        await assert_accessible(page)
        await page.locator("#site-origins").fill("https://kultur.example.dk")
        async with page.expect_navigation():
            await page.locator("form[action='/app/sites'] button[type=submit]").click()
        await page.wait_for_selector("h1:has-text('Kulturhuset')")
        await assert_accessible(page)

        # The copy button: the snippet lands on the clipboard and the status region says so.
        await page.goto(staff_url + f"/app/sites/{key}")
        buttons = page.locator("button[data-copy]")
        await buttons.nth(1).wait_for()  # shown once the script runs
        await buttons.nth(1).click()
        status = page.locator("#copy-status[role=status]")
        await status.filter(has_text=copied).wait_for()
        clipboard = await page.evaluate("navigator.clipboard.readText()")
        assert "widget.js" in clipboard and f'data-site="{key}"' in clipboard
        await assert_accessible(page)

        await page.goto(staff_url + "/app/fields")
        await assert_accessible(page)
        await page.locator("#field-key").fill(f"district_{lang}")
        for code in ("da", "sv", "en"):
            await page.locator(f"#field-label-{code}").fill(f"District {code}")
        async with page.expect_navigation():
            await page.locator("form[action='/app/fields'] button[type=submit]").click()
        await page.wait_for_selector('[role="status"]')
        await page.goto(staff_url + f"/app/fields/district_{lang}")
        await assert_accessible(page)

        await page.goto(staff_url + "/app/audit")
        assert await page.locator("table tbody tr").count() >= 2
        await assert_accessible(page)
        await page.goto(staff_url + "/app/audit?since=nonsense")
        await page.wait_for_selector('[role="alert"]')
        await assert_accessible(page)
        await context.close()


async def test_copy_text_is_selectable_without_javascript(
    chromium: Browser,  # noqa: F811 - the fixture
    staff_url: str,  # noqa: F811 - the fixture
    settings: Settings,
) -> None:
    await _staff_with_password(settings, "ea@example.dk", "viewer")
    context = await chromium.new_context(locale="en", java_script_enabled=False)
    page = await context.new_page()
    await page.goto(staff_url + "/app/login")
    await page.locator("#email").fill("ea@example.dk")
    await page.locator("#password").fill("en lang og god adgangskode")
    async with page.expect_navigation():
        await page.locator("form button[type=submit]").click()
    await page.goto(staff_url + "/app/sites/demo-site")
    # Without the script the buttons stay hidden; the snippets are plain read-only text.
    assert await page.locator("button[data-copy]").first.is_hidden()
    assert "widget.js" in await page.locator("#snippet-script").input_value()
    await context.close()
