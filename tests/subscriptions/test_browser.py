"""The widget in a real browser: Debian's Chromium, driven by Playwright, on a host page served
from another origin with hostile CSS.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package; CI's .ci/run installs it). Without it
the tests skip and say so; they never download a browser.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar, get
from litestar.enums import MediaType
from litestar.params import FromPath
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from brevdue_cli.redis_server import free_port
from services.subscriptions.app import create_app
from shared.settings import Settings
from tests.conftest import LiveServer
from tests.subscriptions.conftest import all_subscribers, all_subscriptions
from tests.subscriptions.member_sites import seed_member_site
from tests.subscriptions.test_public_fields import seed_field

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

try:
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    async_playwright = None  # type: ignore[assignment]

pytestmark = [
    # The browser tests check pages, keyboards and axe-core, not SQL: one database is enough.
    pytest.mark.one_database,
    pytest.mark.skipif(
        not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
        reason="Debian's Chromium is not installed at /usr/bin/chromium "
        "(apt-get install chromium; .ci/run does this where apt is available)",
    ),
    pytest.mark.skipif(
        async_playwright is None, reason="the playwright package is not installed (dev extra)"
    ),
]

# The host page's own styles try hard to break any form on the page. The widget lives in a
# shadow root, so none of this may reach it; the page's own form shows the CSS is in force.
HOSTILE_CSS = """
input, select, textarea { color: white !important; background: white !important;
                          font-size: 2px !important; border: 0 !important; }
form { display: none !important; }
label, legend, p { font-size: 2px !important; color: white !important; }
button { visibility: hidden !important; }
* { font-family: "Comic Sans MS", cursive !important; letter-spacing: 1em; }
"""


def snippet(subscriptions_url: str, site_key: str) -> str:
    """The widget snippet exactly as the campaigns service hands it to staff."""
    return (
        f'<div data-brevdue-signup></div><script src="{subscriptions_url}/widget.js" '
        f'data-site="{site_key}" async></script>'
    )


def host_page(subscriptions_url: str, site_key: str, extra: str = "") -> str:
    """A member site's page embedding the widget snippet as staff copy it."""
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Malmö stadsbibliotek</title>
<style>{HOSTILE_CSS}</style></head>
<body>
<h1>Välkommen</h1>
<form id="host-form"><input id="host-input" value="the host's own form"></form>
<button id="host-button" class="w">Host button</button>
{snippet(subscriptions_url, site_key)}
{extra}
</body></html>"""


def host_app(pages: dict[str, str]) -> Litestar:
    """A tiny web server for member sites' pages, on an origin of its own."""

    @get("/{name:str}", media_type=MediaType.HTML)
    async def page(name: FromPath[str]) -> str:
        return pages[name]

    return Litestar([page], logging_config=None, openapi_config=None)


@pytest.fixture
def browser(chromium: Browser) -> Browser:
    """The worker's headless Chromium (tests/conftest.py)."""
    return chromium


@pytest.fixture
async def subscriptions_url(
    settings: Settings, live_server: type[LiveServer], redis: Redis
) -> AsyncIterator[str]:
    """The subscriptions app on a real port, its public URL pointing at itself."""
    port = free_port()
    app_settings = dataclasses.replace(
        settings, subscriptions_public_url=f"http://127.0.0.1:{port}", altcha_max_number=20_000
    )
    async with live_server(create_app(app_settings), port=port) as server:
        yield server.url


async def open_page(browser: Browser, url: str, locale: str = "sv-SE") -> tuple[Page, list[str]]:
    """A new page at ``url`` in a browser set to ``locale`` (its languages and Accept-Language),
    and the console errors it logs."""
    page = await browser.new_page(locale=locale)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(url)
    return page, errors


async def test_widget_signs_up_from_a_member_sites_page(
    browser: Browser, subscriptions_url: str, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    site_id = await seed_member_site(
        engine, "malmo-bibliotek", origins=[origin], default_lists=["kultur", "musik"]
    )
    pages = {"index.html": host_page(subscriptions_url, "malmo-bibliotek")}
    async with LiveServer(host_app(pages), port=host_port) as site:
        page, _ = await open_page(browser, f"{site.url}/index.html")
        widget = page.locator("[data-brevdue-signup]")
        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=ready]")

        # The page's CSS is in force on the page, and does not reach the widget.
        assert not await page.locator("#host-form").is_visible()
        email = widget.locator("input[name=email]")
        assert await email.is_visible()
        style = await email.evaluate(
            "el => { const s = getComputedStyle(el); return [s.fontSize, s.color, s.fontFamily] }"
        )
        assert style[0] == "16px"
        assert style[1] != "rgb(255, 255, 255)"
        assert "Comic" not in style[2]
        assert await widget.locator("button[type=submit]").is_visible()
        # ... and the widget's CSS does not leak onto the page (the host has a ".w" button).
        host_button_bg = await page.locator("#host-button").evaluate(
            "el => getComputedStyle(el).backgroundColor"
        )
        assert host_button_bg != "rgb(11, 79, 138)"

        # Texts come from the server, in the site's language; lists are its defaults.
        assert await widget.locator("label[for=email]").inner_text() == "E-postadress"
        assert await widget.locator("legend").first.inner_text() == "Nyhetsbrev"
        assert await widget.locator("input[name=lists]").count() == 2
        assert await widget.locator("input[name=website]").get_attribute("tabindex") == "-1"

        # A refused attempt: reasons are linked to their fields and focus moves to the first.
        await widget.locator("button[type=submit]").click()
        await page.wait_for_selector("[data-brevdue-signup] #email-error:not([hidden])")
        assert await email.get_attribute("aria-invalid") == "true"
        assert "email-error" in (await email.get_attribute("aria-describedby") or "")
        assert await widget.locator("#consent").get_attribute("aria-invalid") == "true"
        assert await email.evaluate("el => el.getRootNode().activeElement === el")

        # Keyboard only: type, tick, send.
        await email.fill("maja.jensen@example.org")
        await widget.locator("input[name=name]").fill("Maja Jensen")
        await widget.locator("input[value=musik]").check()
        await widget.locator("#consent").focus()
        await page.keyboard.press("Space")
        await widget.locator("button[type=submit]").focus()
        await page.keyboard.press("Enter")

        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=done]")
        status = widget.locator("[role=status]")
        assert "inkorg" in await status.inner_text()
        assert await email.get_attribute("aria-invalid") is None
        await page.close()

    [subscriber] = await all_subscribers(engine)
    assert subscriber["email"] == "maja.jensen@example.org"
    assert subscriber["name"] == "Maja Jensen"
    assert subscriber["language"] == "sv"
    assert subscriber["source_site_id"] == site_id
    rows = await all_subscriptions(engine)
    assert {list_id: row["status"] for list_id, row in rows.items()} == {lists["musik"]: "pending"}
    assert rows[lists["musik"]]["source_site_id"] == site_id


async def test_widget_solves_the_proof_of_work_transparently(
    browser: Browser, subscriptions_url: str, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    site_id = await seed_member_site(
        engine,
        "lund-konsthall",
        origins=[origin],
        default_lists=["kultur"],
        language="en",
        proof_of_work=True,
    )
    pages = {"index.html": host_page(subscriptions_url, "lund-konsthall")}

    async with LiveServer(host_app(pages), port=host_port) as site:
        page, _ = await open_page(browser, f"{site.url}/index.html", locale="en-GB")
        widget = page.locator("[data-brevdue-signup]")
        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=ready]")
        # One list only: it comes ticked.
        assert await widget.locator("input[value=kultur]").is_checked()
        await widget.locator("input[name=email]").fill("ola@example.org")
        await widget.locator("#consent").check()
        await widget.locator("button[type=submit]").click()

        await page.wait_for_selector(
            "[data-brevdue-signup][data-brevdue-state=done]", timeout=30_000
        )
        assert "inbox" in await widget.locator("[role=status]").inner_text()
        await page.close()

    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id
    assert subscriber["language"] == "en"


async def test_widget_on_a_page_the_site_does_not_allow_gets_nothing(
    browser: Browser, subscriptions_url: str, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=["https://malmo.example"])
    probe = f"""<script>
window.directPost = () => fetch("{subscriptions_url}/subscribe", {{
  method: "POST", headers: {{"Content-Type": "application/json"}},
  body: JSON.stringify({{email: "x@example.org", lists: ["kultur"], language: "da",
                         consent: true, site: "malmo-bibliotek"}})
}}).then(r => "status " + r.status, () => "blocked");
</script>"""
    pages = {"index.html": host_page(subscriptions_url, "malmo-bibliotek", probe)}

    async with LiveServer(host_app(pages)) as site:
        page, console_errors = await open_page(browser, f"{site.url}/index.html")
        await page.wait_for_selector(
            "[data-brevdue-signup][data-brevdue-state=error]", state="attached"
        )
        assert await page.locator("[data-brevdue-signup] input").count() == 0
        assert await page.evaluate("window.directPost()") == "blocked"
        assert any("CORS" in text or "Brevdue" in text for text in console_errors)
        await page.close()

    assert await all_subscribers(engine) == []


async def test_embed_page_in_an_iframe_solves_the_proof_of_work_and_signs_up(
    browser: Browser, subscriptions_url: str, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    site_id = await seed_member_site(
        engine, "malmo-bibliotek", origins=[origin], default_lists=["kultur"], proof_of_work=True
    )
    pages = {
        "index.html": f"""<!doctype html><html><body>
<iframe id="signup" src="{subscriptions_url}/embed/malmo-bibliotek" title="Anmälan"
        style="border:0;width:100%;min-height:600px"></iframe></body></html>"""
    }

    async with LiveServer(host_app(pages), port=host_port) as site:
        page, _ = await open_page(browser, f"{site.url}/index.html")
        frame = page.frame_locator("#signup")
        await frame.locator("#email").fill("kim@example.org")
        await frame.locator("#consent").check()
        await frame.locator("button[type=submit]").click()
        await frame.locator("h1", has_text="Titta i din inkorg").wait_for(timeout=30_000)
        await page.close()

    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id


async def test_embed_page_works_with_javascript_off(
    browser: Browser, subscriptions_url: str, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    site_id = await seed_member_site(
        engine, "malmo-bibliotek", origins=[origin], default_lists=["kultur", "musik"]
    )
    pages = {
        "index.html": f"""<!doctype html><html><body>
<iframe id="signup" src="{subscriptions_url}/embed/malmo-bibliotek?lang=da" title="Tilmelding"
        style="border:0;width:100%;min-height:600px"></iframe></body></html>"""
    }
    context = await browser.new_context(java_script_enabled=False)

    async with LiveServer(host_app(pages), port=host_port) as site:
        page = await context.new_page()
        await page.goto(f"{site.url}/index.html")
        frame = page.frame_locator("#signup")
        # A refused attempt comes back as a page inside the frame, reasons linked to fields.
        await frame.locator("button[type=submit]").click()
        await frame.locator(".error-summary").wait_for()
        assert await frame.locator("#email").get_attribute("aria-invalid") == "true"
        await frame.locator("#email").fill("kim@example.org")
        await frame.locator("#lists-2").check()
        await frame.locator("#consent").check()
        await frame.locator("button[type=submit]").click()
        await frame.locator("h1", has_text="Tjek din indbakke").wait_for()
        await context.close()

    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id
    assert subscriber["language"] == "da"
    rows = await all_subscriptions(engine)
    assert set(rows) == {lists["musik"]}


async def test_widget_speaks_the_browsers_language_else_the_sites(
    browser: Browser, subscriptions_url: str, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    await seed_member_site(engine, "malmo-bibliotek", origins=[origin], language="sv")
    chosen = snippet(subscriptions_url, "malmo-bibliotek").replace(
        "async>", 'data-lang="en" async>'
    )
    pages = {
        "index.html": host_page(subscriptions_url, "malmo-bibliotek"),
        "english.html": f"<!doctype html><html><body>{chosen}</body></html>",
    }
    seen = {}
    async with LiveServer(host_app(pages), port=host_port) as site:
        for name, locale in (("index", "da-DK"), ("index", "de-DE"), ("english", "da-DK")):
            page, _ = await open_page(browser, f"{site.url}/{name}.html", locale=locale)
            await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=ready]")
            label = page.locator("[data-brevdue-signup] label[for=email]")
            seen[(name, locale)] = await label.inner_text()
            await page.close()

    assert seen == {
        ("index", "da-DK"): "E-mailadresse",  # the browser's language
        ("index", "de-DE"): "E-postadress",  # none offered: the site's default
        ("english", "da-DK"): "Email address",  # the page's explicit choice
    }


async def test_widget_asks_for_public_custom_fields_accessibly(
    browser: Browser, subscriptions_url: str, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    await seed_member_site(engine, "malmo-bibliotek", origins=[origin], default_lists=["kultur"])
    await seed_field(
        engine,
        "neighbourhood",
        "choice",
        required=True,
        choices=["Möllevången", "Västra hamnen"],
        labels=("Bydel", "Stadsdel", "Neighbourhood"),
    )
    await seed_field(engine, "staff_note", public=False)
    pages = {"index.html": host_page(subscriptions_url, "malmo-bibliotek")}

    async with LiveServer(host_app(pages), port=host_port) as site:
        page, _ = await open_page(browser, f"{site.url}/index.html")
        widget = page.locator("[data-brevdue-signup]")
        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=ready]")
        choice = widget.get_by_label("Stadsdel")
        assert await choice.get_attribute("name") == "custom.neighbourhood"
        assert await widget.locator("[name='custom.staff_note']").count() == 0

        await widget.locator("input[name=email]").fill("maja@example.org")
        await widget.locator("#consent").check()
        await widget.locator("button[type=submit]").click()
        error = widget.locator("[id='custom.neighbourhood-error']")
        await error.wait_for()
        assert await choice.get_attribute("aria-invalid") == "true"
        described = await choice.get_attribute("aria-describedby") or ""
        assert "custom.neighbourhood-error" in described
        assert await choice.evaluate("el => el.getRootNode().activeElement === el")

        await choice.select_option("Västra hamnen")
        await widget.locator("button[type=submit]").click()
        await page.wait_for_selector("[data-brevdue-signup][data-brevdue-state=done]")
        await page.close()

    [subscriber] = await all_subscribers(engine)
    assert subscriber["custom_values"] == {"neighbourhood": "Västra hamnen"}


async def test_a_rate_limited_embed_sign_up_shows_inside_the_frame(
    browser: Browser,
    settings: Settings,
    live_server: type[LiveServer],
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    await seed_member_site(engine, "malmo-bibliotek", origins=[origin], default_lists=["kultur"])
    port = free_port()
    app_settings = dataclasses.replace(
        settings,
        subscriptions_public_url=f"http://127.0.0.1:{port}",
        signup_limit_per_ip=1,
        signup_min_duration=0.0,
    )
    pages = {
        "index.html": f"""<!doctype html><html><body>
<iframe id="signup" src="http://127.0.0.1:{port}/embed/malmo-bibliotek" title="Anmälan"
        style="border:0;width:100%;min-height:600px"></iframe></body></html>"""
    }

    async with (
        live_server(create_app(app_settings), port=port),
        LiveServer(host_app(pages), port=host_port) as site,
    ):
        page, _ = await open_page(browser, f"{site.url}/index.html")
        frame = page.frame_locator("#signup")
        for address in ("kim@example.org", "ola@example.org"):
            await frame.locator("#email").fill(address)
            await frame.locator("#consent").check()
            await frame.locator("button[type=submit]").click()
            if address.startswith("kim"):
                await frame.locator("h1", has_text="Titta i din inkorg").wait_for()
                await page.goto(f"{site.url}/index.html")
                frame = page.frame_locator("#signup")
        await frame.locator("h1", has_text="För många försök").wait_for()
        await page.close()

    assert len(await all_subscribers(engine)) == 1
