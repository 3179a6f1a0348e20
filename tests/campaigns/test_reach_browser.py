"""The reach pages in Debian's Chromium: an axe-core scan of a site's and a campaign's reach
page in Danish, Swedish and English, and the tile grid drawn."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import member_sites
from shared.settings import Settings
from tests.campaigns.test_dashboard import Seed
from tests.campaigns.test_reach import Residents
from tests.campaigns.test_staff_browser import (  # noqa: F401 - fixtures
    _sign_in,
    _staff_with_password,
    assert_accessible,
    staff_url,
)
from tests.subscriptions.test_browser import pytestmark  # noqa: F401 - skips without Chromium


async def _museum(db: AsyncEngine) -> int:
    async with db.begin() as conn:
        site_id = (
            await conn.execute(
                sa.insert(member_sites)
                .values(
                    key="m-og-s",
                    name="M/S Museet for Søfart",
                    country="DK",
                    municipality="dk-helsingoer",
                    allowed_origins=[],
                    default_lists=["kultur"],
                    default_language="da",
                    created_at=datetime.now(UTC),
                )
                .returning(member_sites.c.id)
            )
        ).scalar_one()
    people = Residents(db)
    for municipality, number in (
        ("dk-helsingoer", 12),
        ("se-helsingborg", 8),
        ("se-lund", 3),
        ("dk-koebenhavn", 6),
        (None, 5),
    ):
        await people.add(municipality, number, site_id=site_id)
    return int(site_id)


async def test_reach_pages_are_accessible_in_every_language(
    chromium: Browser,  # noqa: F811 - the fixture
    staff_url: str,  # noqa: F811 - the fixture
    settings: Settings,
    db: AsyncEngine,
) -> None:
    await _staff_with_password(settings, "viewer@example.dk", "viewer")
    await _museum(db)
    campaign_id = await Seed(db).campaign(
        "Efterårets program", "sending", recipients=4, ledger={"sent": 4}
    )
    for lang, heading in (
        ("en", "Reach: M/S Museet for Søfart"),
        ("da", "Rækkevidde: M/S Museet for Søfart"),
        ("sv", "Räckvidd: M/S Museet for Søfart"),
    ):
        context = await chromium.new_context(locale=lang)
        page = await context.new_page()
        page.set_default_timeout(60_000)  # the machine may be busy; nothing here is slow
        await _sign_in(page, staff_url, "viewer@example.dk")
        await page.goto(staff_url + "/app/sites/m-og-s")
        async with page.expect_navigation():
            await page.locator("a[href='/app/sites/m-og-s/reach']").click()
        assert await page.inner_text("h1") == heading
        assert await page.inner_text("#figure-skane") == "11"
        assert await page.locator("svg.tiles rect").count() == 131
        assert await page.locator("figure.chart svg").count() == 2
        await assert_accessible(page)
        await page.goto(staff_url + f"/app/campaigns/{campaign_id}/reach")
        # Four recipients: fewer than five, so withheld.
        assert await page.inner_text("#figure-recipients") == "<5"
        await assert_accessible(page)
        await context.close()
