"""The README's promise, kept: a newcomer starts ``brevdue run``, opens the printed staff URL,
logs in with the printed password and sends a campaign to a demo list, in a real browser, without
reading any API documentation; then every page of the app opens."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import async_playwright

from tests.cli.running import require_services
from tests.subscriptions.test_browser import pytestmark  # noqa: F401 - skips without Chromium
from tools.staff_tour import CHROMIUM, CHROMIUM_ARGS, RunningSuite, brevdue_run, take_tour


async def _tour(suite: RunningSuite, shots: Path) -> list[str]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            return await take_tour(browser, suite, screenshots=shots, schedule=False)
        finally:
            await browser.close()


def test_a_newcomer_sends_a_campaign_from_the_printed_login(tmp_path: Path) -> None:
    require_services()
    shots = tmp_path / "shots"
    shots.mkdir()
    with brevdue_run(tmp_path) as suite:
        visited = asyncio.run(_tour(suite, shots))
    # The campaign reached 100 % (the tour waits for the full bar), every section answered, and
    # no page scrolls sideways on a tablet (the tour checks that too).
    sections = ("/app/", "/app/campaigns", "/app/lists", "/app/subscribers", "/app/sites",
                "/app/fields", "/app/users", "/app/audit", "/app/account")  # fmt: skip
    for section in sections:
        assert any(section in url for url in visited), (section, visited)
    assert (shots / "campaign-sent.png").stat().st_size > 10_000
