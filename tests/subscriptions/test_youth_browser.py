"""A youth list's resident pages in Debian's Chromium, each scanned with axe-core: the sign-up
form with the year of birth and the guardian's address, the guardian's page and its answer,
and the age review page before and after confirming."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from brevdue_cli.redis_server import free_port
from shared.links import sign_age_review
from shared.schema import mailing_lists, subscribers
from shared.settings import Settings
from shared.tokens import TokenSigner
from tests.campaigns.test_staff_browser import assert_accessible
from tests.conftest import LiveServer
from tests.subscriptions.conftest import all_subscribers, all_subscriptions, queued_mails
from tests.subscriptions.member_sites import seed_member_site
from tests.subscriptions.test_browser import (  # noqa: F401
    browser,
    host_app,
    host_page,
    open_page,
    pytestmark,
    subscriptions_url,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser

GUARDIAN_PATH = re.compile(r"http://127\.0\.0\.1:\d+(/guardian/[A-Za-z0-9_.\-]+)")


async def test_a_child_signs_up_and_the_guardian_confirms_in_the_browser(
    browser: Browser,  # noqa: F811
    subscriptions_url: str,  # noqa: F811
    settings: Settings,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(mailing_lists).where(mailing_lists.c.id == lists["born"]).values(youth=True)
        )
    # The page runs no script of its own; axe-core is injected by the test.
    context = await browser.new_context(locale="sv-SE")
    page = await context.new_page()
    await page.goto(f"{subscriptions_url}/subscribe")
    await assert_accessible(page)
    await page.get_by_label("E-postadress", exact=True).fill("elsa@malmo.example.se")
    await page.get_by_label("Barn och unga").check()
    await page.get_by_label("Födelseår").fill(str(datetime.now(UTC).year - 12))
    await page.locator("#consent").check()
    await page.get_by_role("button", name="Anmäl").click()
    # Without the guardian's address the form comes back with the reason, still accessible.
    await page.wait_for_selector(".error-summary")
    assert "vårdnadshavares e-postadress" in await page.inner_text(".error-summary")
    await assert_accessible(page)
    await page.locator("#guardian_email").fill("mamma@malmo.example.se")
    await page.locator("#consent").check()
    await page.get_by_role("button", name="Anmäl").click()
    await page.wait_for_url("**/thanks**")

    [mail] = await queued_mails(redis)
    assert mail.to == "mamma@malmo.example.se"
    link = GUARDIAN_PATH.search(mail.text)
    assert link
    await page.goto(subscriptions_url + link.group(1))
    await assert_accessible(page)
    await page.get_by_role("button", name="vårdnadshavare").click()
    await page.wait_for_selector("h1")
    assert await page.locator("h1").inner_text() == "Tack för din bekräftelse"
    await assert_accessible(page)
    assert (await all_subscriptions(engine))[lists["born"]]["status"] == "confirmed"

    [child] = await _subscriber_keys(engine)
    review = sign_age_review(TokenSigner(settings.secret_keys), child)
    await page.goto(f"{subscriptions_url}/age-review/{review}")
    assert await page.locator("h1").inner_text() == "Bekräfta ditt eget samtycke"
    await assert_accessible(page)
    await page.get_by_role("button", name="Ja, jag vill fortsätta att få dem").click()
    await page.wait_for_selector("h1:has-text('Ditt samtycke är bekräftat')")
    await assert_accessible(page)
    await context.close()


async def _youth_list(engine: AsyncEngine, list_id: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(mailing_lists).where(mailing_lists.c.id == list_id).values(youth=True)
        )


async def test_the_widget_asks_the_youth_fields_only_when_a_youth_list_is_ticked(
    browser: Browser,  # noqa: F811
    subscriptions_url: str,  # noqa: F811
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
) -> None:
    await _youth_list(engine, lists["born"])
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    await seed_member_site(
        engine, "malmo-bibliotek", origins=[origin], default_lists=["kultur", "born"]
    )
    pages = {"index.html": host_page(subscriptions_url, "malmo-bibliotek")}
    async with LiveServer(host_app(pages), port=host_port) as site:
        page, _ = await open_page(browser, f"{site.url}/index.html")
        widget = page.locator("[data-brevdue-signup]")
        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=ready]")
        birth_year = widget.get_by_label("Födelseår")
        assert not await birth_year.is_visible()
        await widget.locator("input[value=born]").check()
        assert await birth_year.is_visible()
        await assert_accessible(page)

        await widget.locator("input[name=email]").fill("elsa@malmo.example.se")
        await birth_year.fill(str(datetime.now(UTC).year - 12))
        await widget.locator("#consent").check()
        await widget.locator("button[type=submit]").click()
        guardian = widget.locator("#guardian_email")
        await page.wait_for_selector("[data-brevdue-signup] #guardian_email-error:not([hidden])")
        assert await guardian.get_attribute("aria-invalid") == "true"
        await guardian.fill("mamma@malmo.example.se")
        await widget.locator("button[type=submit]").click()
        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=done]")
        await page.close()

    [mail] = await queued_mails(redis)
    assert mail.to == "mamma@malmo.example.se"
    [child] = await all_subscribers(engine)
    assert child["minor"] is True


async def test_the_embed_page_without_javascript_explains_the_youth_fields(
    browser: Browser,  # noqa: F811
    subscriptions_url: str,  # noqa: F811
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
) -> None:
    await _youth_list(engine, lists["born"])
    await seed_member_site(engine, "malmo-bibliotek", default_lists=["kultur", "born"])
    context = await browser.new_context(locale="da-DK", java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{subscriptions_url}/embed/malmo-bibliotek?lang=da")
    help_text = await page.locator("#youth-help").inner_text()
    assert "Udfyld kun dette, hvis du har valgt" in help_text and "Børn og unge" in help_text
    await page.get_by_label("E-mailadresse", exact=True).fill("liv@example.dk")
    await page.get_by_label("Børn og unge").check()
    await page.get_by_label("Fødselsår").fill(str(datetime.now(UTC).year - 15))
    await page.locator("#consent").check()
    await page.get_by_role("button", name="Tilmeld").click()
    await page.wait_for_load_state()
    [mail] = await queued_mails(redis)
    assert mail.to == "liv@example.dk"
    await context.close()
    # axe-core runs as a script: the scan needs JavaScript, the page does not.
    scanned = await browser.new_page(locale="da-DK")
    await scanned.goto(f"{subscriptions_url}/embed/malmo-bibliotek?lang=da")
    await assert_accessible(scanned)
    await scanned.close()


async def _subscriber_keys(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return [str(key) for key in (await conn.execute(sa.select(subscribers.c.key))).scalars()]
