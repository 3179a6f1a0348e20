"""The organisation layout page in Debian's Chromium, scanned with axe-core: an admin sets what
every campaign layout shows, and a Markdown campaign's preview shows it with the HTML's size.

Needs ``/usr/bin/chromium``; without it the tests skip and say so (no browser download).
"""

from __future__ import annotations

import contextlib
import re

from shared.settings import Settings
from tests.campaigns.test_campaign_editor_browser import _sign_in, _staff
from tests.campaigns.test_staff_browser import (  # noqa: F401 - fixtures
    assert_accessible,
    pytestmark,
    staff_url,
)

with contextlib.suppress(ImportError):  # the dev extra installs it
    from playwright.async_api import Browser, expect


async def test_an_admin_sets_the_organisation_layout_a_markdown_campaign_shows(
    chromium: Browser,  # noqa: F811
    staff_url: str,  # noqa: F811
    settings: Settings,
) -> None:
    await _staff(settings, "admin@example.dk", "admin")
    context = await chromium.new_context(locale="en")
    page = await context.new_page()
    await _sign_in(page, staff_url, "admin@example.dk")

    await page.get_by_role("link", name="Organisation layout").click()
    await page.wait_for_url("**/app/organisation")
    await assert_accessible(page)
    await page.get_by_label("Name", exact=True).fill("Kulturhuset Syd")
    await page.get_by_label("Postal address").fill("Storgatan 1, 211 34 Malmö")
    await page.get_by_label("Logo address (optional)").fill("http://kultur.example/logo.png")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#logo_url-problem")).to_have_text(
        "must be an https:// address without spaces"
    )
    assert await page.locator("#logo_url").get_attribute("aria-invalid") == "true"
    await expect(page.get_by_label("Postal address")).to_have_value("Storgatan 1, 211 34 Malmö")
    await assert_accessible(page)
    await page.get_by_label("Logo address (optional)").fill("")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator('[role="status"]')).to_have_text("Saved.")

    await page.goto(staff_url + "/app/campaigns/new")
    await page.get_by_label("Subject", exact=True).fill("News")
    await page.locator("#list-kultur").check()
    await page.get_by_label("The body is written in").select_option("markdown")
    await page.get_by_label("Layout").select_option("banner")
    await page.get_by_label("Body", exact=True).fill("# Hello {{ subscriber.name or 'friend' }}")
    # A Swedish variant, in its own section of the form.
    await page.locator("summary", has_text="Swedish").click()
    await page.get_by_label("Subject (Swedish)").fill("Nyheter")
    await page.get_by_label("Body (Swedish)").fill("# Hej {{ subscriber.name }}")
    await page.get_by_role("button", name="Create the campaign").click()
    await page.wait_for_url(re.compile(r".*/edit\?created=1$"))
    frame = page.frame_locator("iframe.preview")
    await expect(frame.locator("h1")).to_have_text("Hello Maja")
    await expect(frame.locator("body")).to_contain_text("Storgatan 1, 211 34 Malmö")
    await expect(page.locator(".rendered-size")).to_contain_text("KB of HTML")
    await assert_accessible(page)
    # The preview in Swedish shows the Swedish variant.
    await page.locator("#preview-lang").select_option("sv")
    await page.get_by_role("button", name="Show the preview").click()
    await expect(page.locator(".rendered-subject")).to_have_text("Nyheter")
    await expect(frame.locator("h1")).to_have_text("Hej Maja")

    # The campaign page offers the test send per variant.
    await page.get_by_role("link", name="The campaign page: test send, send and progress").click()
    await expect(page.get_by_label("Language variant")).to_be_visible()
    await assert_accessible(page)
    await context.close()
