"""The campaigns list, editor and preview in Debian's Chromium, each page scanned with axe-core.

Needs ``/usr/bin/chromium``; without it the tests skip and say so (no browser download).
"""

from __future__ import annotations

import contextlib
import re

from services.campaigns import accounts
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings
from tests.campaigns.test_campaign_editor import add_reader
from tests.campaigns.test_staff_browser import (  # noqa: F401 - fixtures
    NEW_PASSWORD,
    assert_accessible,
    pytestmark,
    staff_url,
)

with contextlib.suppress(ImportError):  # the dev extra installs it
    from playwright.async_api import Browser, Page, expect


async def _staff(settings: Settings, email: str, role: str) -> None:
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        await accounts.create_user(session, email, role, password=NEW_PASSWORD)
    await engine.dispose()


async def _sign_in(page: Page, base_url: str, email: str) -> None:
    await page.goto(base_url + "/app/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")


async def test_create_a_campaign_for_kultur_and_preview_it_as_a_subscriber_in_swedish(
    chromium: Browser,  # noqa: F811
    staff_url: str,  # noqa: F811
    settings: Settings,
) -> None:
    await _staff(settings, "ea@example.dk", "editor")
    await add_reader(settings, "bjorn@example.se", "Björn", "da", {"kultur": "confirmed"})
    context = await chromium.new_context(locale="da")
    page = await context.new_page()
    await _sign_in(page, staff_url, "ea@example.dk")

    await page.get_by_role("link", name="Kampagner").click()
    await page.wait_for_url("**/app/campaigns")
    assert await page.locator("h1").inner_text() == "Kampagner"
    await assert_accessible(page)

    await page.get_by_role("link", name="Ny kampagne").click()
    await page.wait_for_url("**/app/campaigns/new")
    await assert_accessible(page)
    await page.get_by_label("Emne", exact=True).fill("Kulturnyt for {{ subscriber.name }}")
    await page.get_by_label("Afsendernavn").fill("Københavns Kommune")
    await page.get_by_label("Afsenderadresse").fill("nyhed@kk.test")
    await page.locator("#list-kultur").check()
    await page.get_by_label("Indhold", exact=True).fill(
        "<p>Hej {{ subscriber.name }}</p>\n<p>{{ nmae }}</p>"
    )
    await page.get_by_role("button", name="Opret kampagnen").click()
    await expect(page.locator('[role="alert"]')).to_be_visible()
    problem = page.locator("#body-problem")
    await expect(problem).to_contain_text("Linje 2: 'nmae' is undefined")
    # What was typed stays in the form.
    await expect(page.get_by_label("Afsendernavn")).to_have_value("Københavns Kommune")
    assert await page.locator("#body").get_attribute("aria-invalid") == "true"
    await assert_accessible(page)

    await page.get_by_label("Indhold", exact=True).fill("<p>Hej {{ subscriber.name }}</p>")
    await page.get_by_role("button", name="Opret kampagnen").click()
    await page.wait_for_url(re.compile(r".*/app/campaigns/\d+/edit\?created=1$"))
    await expect(page.locator('[role="status"]')).to_have_text("Kampagnen er oprettet.")
    assert "(1 bekræftet abonnent)" in await page.locator("label[for=list-kultur]").inner_text()

    # Find the subscriber as one types (htmx), read it as them in Swedish.
    await page.get_by_label("Find en abonnent efter adresse").press_sequentially("bj")
    reader = page.get_by_label("bjorn@example.se (Björn)")
    await reader.check()
    await page.get_by_label("Sprog", exact=True).select_option("sv")
    await page.get_by_role("button", name="Vis forhåndsvisningen").click()
    frame = page.frame_locator("iframe.preview")
    await expect(frame.locator("body")).to_contain_text(
        "Du får detta mejl eftersom du har anmält dig."
    )
    await expect(frame.locator("body")).to_contain_text("Hej Björn")
    assert "lang=sv" in (await page.locator("iframe.preview").get_attribute("src") or "")
    assert await page.locator("iframe.preview").get_attribute("sandbox") == ""
    await expect(page.locator(".rendered-subject")).to_have_text("Kulturnyt for Björn")
    await expect(page.locator("pre.text-part")).to_contain_text("Avsluta")
    await assert_accessible(page)

    await page.get_by_role("link", name="Tilbage til kampagnerne").click()
    await page.wait_for_url("**/app/campaigns")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await assert_accessible(page)
    await context.close()


async def test_the_preview_works_without_javascript(
    chromium: Browser,  # noqa: F811
    staff_url: str,  # noqa: F811
    settings: Settings,
) -> None:
    await _staff(settings, "ea@example.dk", "editor")
    await add_reader(settings, "asa@example.se", "Åsa", "sv", {"kultur": "confirmed"})
    context = await chromium.new_context(locale="en", java_script_enabled=False)
    page = await context.new_page()
    await _sign_in(page, staff_url, "ea@example.dk")
    await page.goto(staff_url + "/app/campaigns/new")
    await page.get_by_label("Subject", exact=True).fill("News")
    await page.locator("#list-kultur").check()
    await page.get_by_label("Body", exact=True).fill("<p>Hi {{ subscriber.name }}</p>")
    await page.get_by_role("button", name="Create the campaign").click()
    await page.wait_for_url(re.compile(r".*/edit\?created=1$"))
    await page.get_by_label("Find a subscriber by address").fill("AS")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_label("asa@example.se (Åsa)").check()
    await page.get_by_role("button", name="Show the preview").click()
    frame = page.frame_locator("iframe.preview")
    # Her own language by default.
    await expect(frame.locator("body")).to_contain_text("Du får detta mejl")
    await expect(frame.locator("body")).to_contain_text("Hi Åsa")
    await context.close()
