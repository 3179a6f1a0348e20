"""The municipality field of a site that asks for it, in Debian's Chromium: chosen by keyboard
on the embed page (scanned with axe-core) and in the widget on a member site's page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from brevdue_cli.redis_server import free_port
from tests.campaigns.test_staff_browser import assert_accessible
from tests.conftest import LiveServer
from tests.subscriptions.conftest import all_subscribers
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


async def test_embed_page_municipality_is_picked_by_typing_its_name(
    browser: Browser,  # noqa: F811
    subscriptions_url: str,  # noqa: F811
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    await seed_member_site(
        engine, "malmo-bibliotek", default_lists=["kultur"], asks_municipality=True
    )
    page, errors = await open_page(browser, f"{subscriptions_url}/embed/malmo-bibliotek?lang=sv")
    await assert_accessible(page)

    municipality = page.get_by_label("Kommun (valfritt)")
    assert await municipality.input_value() == ""
    # A closed native select jumps to the option whose name is typed.
    await municipality.focus()
    await page.keyboard.type("Lund", delay=50)
    assert await municipality.input_value() == "se-lund"
    await page.locator("#email").fill("maja@example.org")
    await page.locator("#consent").check()
    await page.locator("button[type=submit]").click()
    await page.locator("h1").wait_for()
    assert "/thanks" in page.url
    assert errors == []
    await page.close()

    [subscriber] = await all_subscribers(engine)
    assert subscriber["municipality"] == "se-lund"


async def test_widget_asks_for_the_municipality_when_the_site_does(
    browser: Browser,  # noqa: F811
    subscriptions_url: str,  # noqa: F811
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    await seed_member_site(
        engine,
        "malmo-bibliotek",
        origins=[origin],
        default_lists=["kultur"],
        asks_municipality=True,
    )
    pages = {"index.html": host_page(subscriptions_url, "malmo-bibliotek")}

    async with LiveServer(host_app(pages), port=host_port) as site:
        # The host's tiny server has no favicon; its console errors are not the widget's.
        page, _ = await open_page(browser, f"{site.url}/index.html", locale="da-DK")
        widget = page.locator("[data-brevdue-signup]")
        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=ready]")
        municipality = widget.get_by_label("Kommune (valgfrit)")
        assert await municipality.get_attribute("name") == "municipality"
        groups = await widget.locator("#municipality optgroup").evaluate_all(
            "els => els.map(el => el.label)"
        )
        assert groups == ["Danmark", "Skåne", "Andre steder"]

        await municipality.select_option(label="Udlandet")
        await widget.locator("input[name=email]").fill("ola@example.org")
        await widget.locator("#consent").check()
        await widget.locator("button[type=submit]").click()
        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=done]")
        await page.close()

    [subscriber] = await all_subscribers(engine)
    assert subscriber["municipality"] == "abroad"
