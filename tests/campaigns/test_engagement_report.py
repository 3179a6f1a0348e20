"""A campaign's engagement figures: clicks per link and click rate in the API and on the
campaign page, opens only when switched on and always with why they mislead; the switches in
the API."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import campaign_links, campaign_opens, deliveries, link_clicks
from shared.settings import Settings
from tests.campaigns.conftest import Api, new_campaign
from tests.campaigns.staff_support import sign_in_as

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


async def _engaged(db: AsyncEngine, campaign_id: int) -> None:
    """Four messages delivered and one failed; two links, clicked by residents 1 and 2."""
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(deliveries),
            [
                {
                    "campaign_id": campaign_id,
                    "subscriber_id": number,
                    "status": "failed" if number == 5 else "sent",
                    "attempts": 1,
                    "message_id": f"<m{number}@test>",
                    "queued_at": NOW,
                    "updated_at": NOW,
                }
                for number in range(1, 6)
            ],
        )
        first, second = [
            (
                await conn.execute(
                    sa.insert(campaign_links).values(
                        campaign_id=campaign_id, url=url, position=position
                    )
                )
            ).inserted_primary_key[0]
            for position, url in enumerate(("https://a.test/program", "https://b.test/"))
        ]
        clicks = [(first, 1, 3), (first, 2, 1), (second, 1, 1)]
        await conn.execute(
            sa.insert(link_clicks),
            [
                {
                    "link_id": link,
                    "subscriber_id": subscriber,
                    "campaign_id": campaign_id,
                    "clicks": count,
                    "first_at": NOW,
                    "last_at": NOW,
                }
                for link, subscriber, count in clicks
            ],
        )
        await conn.execute(
            sa.insert(campaign_opens).values(
                campaign_id=campaign_id, subscriber_id=3, opens=2, first_at=NOW, last_at=NOW
            )
        )


async def test_clicks_per_link_click_rate_and_opens_only_when_tracked(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    tracked = await new_campaign(api, track_opens=True)
    assert (tracked["track_opens"], tracked["archive_public"]) == (True, False)
    patched = await api.patch(f"/api/campaigns/{tracked['id']}", json={"archive_public": True})
    assert patched.status_code == 200 and patched.json()["archive_public"] is True
    assert patched.json()["track_opens"] is True  # not named in the patch: kept
    bad = await api.patch(f"/api/campaigns/{tracked['id']}", json={"track_opens": "yes"})
    assert bad.status_code in (400, 422)
    plain = await new_campaign(api)
    for campaign in (tracked, plain):
        assert (await api.post(f"/api/campaigns/{campaign['id']}/send")).status_code == 202
        await _engaged(db, campaign["id"])

    body = (await api.get(f"/api/campaigns/{tracked['id']}/engagement", role="viewer")).json()
    assert (body["delivered"], body["unique_clickers"], body["click_rate"]) == (4, 2, 50.0)
    assert [(x["url"], x["unique_clicks"], x["total_clicks"]) for x in body["links"]] == [
        ("https://a.test/program", 2, 4),
        ("https://b.test/", 1, 1),
    ]
    opens = body["opens"]
    assert (opens["unique_opens"], opens["total_opens"], opens["open_rate"]) == (1, 2, 25.0)
    assert "Apple Mail Privacy Protection" in opens["note"]
    untracked = (await api.get(f"/api/campaigns/{plain['id']}/engagement")).json()
    assert untracked["track_opens"] is False and untracked["opens"] is None
    assert untracked["click_rate"] == 50.0
    assert (await api.get("/api/campaigns/999999/engagement")).status_code == 404

    async with httpx.AsyncClient(base_url=str(api.client.base_url), timeout=20) as browser:
        await sign_in_as(browser, settings, "viewer")
        page = await browser.get(
            f"/app/campaigns/{tracked['id']}", headers={"Accept-Language": "da"}
        )
        assert page.status_code == 200
        assert '<td class="url">https://a.test/program</td><td>2</td><td>4</td>' in page.text
        assert 'id="figure-click-rate">50.0 %' in page.text
        assert 'id="opens-note"' in page.text and "Apple Mail Privacy Protection" in page.text
        plain_page = await browser.get(f"/app/campaigns/{plain['id']}")
        assert 'id="engagement"' in plain_page.text and 'id="opens-note"' not in plain_page.text
