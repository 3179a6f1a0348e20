"""Cross-border reach: residents by where they live, per member site and per campaign, over
HTTP on both databases, with every count below 5 withheld."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.reach_figures import THRESHOLD, breakdown, withhold
from shared.addresses import address_digest
from shared.schema import (
    audit_log,
    campaign_links,
    deliveries,
    link_clicks,
    mailing_lists,
    subscribers,
    subscriptions,
)
from shared.settings import Settings
from tests.campaigns.conftest import Api, new_campaign
from tests.campaigns.staff_support import sign_in_as
from tests.campaigns.test_sites import new_site

NOW = datetime.now(UTC).replace(microsecond=0)


class Residents:
    """Inserts residents with a municipality, as the subscriptions service would."""

    def __init__(self, db: AsyncEngine) -> None:
        self.db = db
        self.count = 0

    async def add(
        self,
        municipality: str | None,
        number: int = 1,
        *,
        site_id: int | None = None,
        statuses: tuple[str, ...] = ("confirmed",),
    ) -> list[int]:
        """``number`` residents living in ``municipality``, signed up through ``site_id`` to as
        many lists as ``statuses`` name; their ids."""
        ids = []
        async with self.db.begin() as conn:
            slugs = ("kultur", "idraet", "boern-unge")
            list_ids = dict(
                (await conn.execute(sa.select(mailing_lists.c.slug, mailing_lists.c.id))).all()
            )
            for _ in range(number):
                self.count += 1
                subscriber_id = (
                    await conn.execute(
                        sa.insert(subscribers)
                        .values(
                            key=f"{self.count:032d}",
                            email=f"r{self.count}@example.org",
                            language="da",
                            status="active",
                            source_site_id=site_id,
                            municipality=municipality,
                            created_at=NOW,
                            updated_at=NOW,
                        )
                        .returning(subscribers.c.id)
                    )
                ).scalar_one()
                for slug, status in zip(slugs, statuses, strict=False):
                    await conn.execute(
                        sa.insert(subscriptions).values(
                            subscriber_id=subscriber_id,
                            list_id=list_ids[slug],
                            status=status,
                            source_site_id=site_id,
                            requested_at=NOW,
                        )
                    )
                ids.append(int(subscriber_id))
        return ids


def _region(body: dict[str, Any], region: str) -> dict[str, Any]:
    found: dict[str, Any] = next(item for item in body["regions"] if item["region"] == region)
    return found


def _area(body: dict[str, Any], municipality: str) -> int | None:
    for region in body["regions"]:
        for area in region["municipalities"]:
            if area["municipality"] == municipality:
                residents: int | None = area["residents"]
                return residents
    raise AssertionError(municipality)


async def _helsingor_museum(api: Api, db: AsyncEngine) -> Residents:
    site = await new_site(
        api, key="m-og-s", name="M/S Museet for Søfart", country="DK", municipality="Helsingør"
    )
    other = await new_site(api, key="other")
    people = Residents(db)
    await people.add("dk-helsingoer", 11, site_id=site["id"])
    # One resident on two lists counts once.
    await people.add("dk-helsingoer", site_id=site["id"], statuses=("confirmed", "confirmed"))
    await people.add("dk-koebenhavn", 7, site_id=site["id"])
    await people.add("dk-gentofte", 1, site_id=site["id"])
    await people.add("se-helsingborg", 8, site_id=site["id"])
    await people.add("se-malmo", 6, site_id=site["id"])
    await people.add("se-lund", 3, site_id=site["id"])
    await people.add("se-landskrona", 2, site_id=site["id"])
    await people.add(None, 6, site_id=site["id"])
    # Not confirmed, or through another site, or no site: not this site's audience.
    await people.add("se-malmo", site_id=site["id"], statuses=("pending",))
    await people.add("se-malmo", 9, site_id=other["id"])
    await people.add("se-malmo", 9)
    return people


async def test_a_helsingor_museum_sees_its_subscribers_in_skane(api: Api, db: AsyncEngine) -> None:
    await _helsingor_museum(api, db)
    response = await api.get("/api/sites/m-og-s/reach")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["municipality"], body["country"], body["threshold"]) == ("dk-helsingoer", "DK", 5)
    audience = body["audience"]
    assert audience["total"] == 45
    assert _region(audience, "skane")["residents"] == 19
    assert _region(audience, "dk")["residents"] == 20
    assert _region(audience, "unknown")["residents"] == 6
    assert _region(audience, "abroad")["residents"] == 0
    assert (_area(audience, "se-helsingborg"), _area(audience, "se-malmo")) == (8, 6)
    # Below 5: withheld; together they are 5, so Skåne's total gives no smaller figure back.
    assert (_area(audience, "se-lund"), _area(audience, "se-landskrona")) == (None, None)
    # Gentofte's 1 alone beneath Denmark's total would be Denmark minus the shown ones, so the
    # next smallest shown count (København's 7) is withheld with it.
    assert _area(audience, "dk-helsingoer") == 12
    assert (_area(audience, "dk-gentofte"), _area(audience, "dk-koebenhavn")) == (None, None)
    assert _area(audience, "dk-aarhus") == 0
    # Of the 39 who said where they live, 27 live outside Helsingør and 19 in Sweden.
    assert body["other_municipality"] == {"residents": 27, "percent": 69.2}
    assert body["other_country"] == {"residents": 19, "percent": 48.7}
    # Sign-ups this month, the pending one too.
    month = body["months"][-1]
    assert month["month"] == NOW.strftime("%Y-%m")
    assert month["total"] == 46
    assert month["regions"] == {"dk": 20, "skane": 20, "se_other": 0, "abroad": 0, "unknown": 6}


async def test_the_csv_holds_what_the_api_shows(api: Api, db: AsyncEngine) -> None:
    await _helsingor_museum(api, db)
    response = await api.get("/api/sites/m-og-s/reach.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="reach-m-og-s.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    audience = {
        (row["region"], row["municipality"]): row["residents"]
        for row in rows
        if row["figure"] == "audience"
    }
    assert audience[("", "")] == "45"
    assert audience[("skane", "")] == "19"
    assert audience[("skane", "se-lund")] == "<5"
    assert audience[("dk", "dk-koebenhavn")] == "<5"
    shares = {row["figure"]: (row["residents"], row["percent"]) for row in rows}
    assert shares["other_country"] == ("19", "48.7")
    # Every count in the file is 0, at least 5 or withheld.
    for row in rows:
        assert row["residents"] == "<5" or int(row["residents"]) in (0, *range(5, 10_000))
    every = await api.get("/api/sites/reach.csv")
    assert every.status_code == 200, every.text
    sites = {row["site"] for row in csv.DictReader(io.StringIO(every.text))}
    assert sites == {"demo-site", "m-og-s", "other"}


async def test_the_staff_pages_show_the_figures_in_every_language(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    await _helsingor_museum(api, db)
    campaign = await new_campaign(api)
    async with httpx.AsyncClient(base_url=str(api.client.base_url), timeout=20) as browser:
        await sign_in_as(browser, settings, "viewer")
        for lang, skane, sweden in (
            ("en", "live in Skåne", "live in Sweden"),
            ("da", "bor i Skåne", "bor i Sverige"),
            ("sv", "bor i Skåne", "bor i Sverige"),
        ):
            headers = {"Accept-Language": lang}
            page = await browser.get("/app/sites/m-og-s/reach", headers=headers)
            assert page.status_code == 200, page.text
            assert f'<strong id="figure-skane">19</strong> {skane}' in page.text
            assert f'<strong id="figure-other-country">48.7 % (19)</strong>\n    {sweden}' in (
                page.text
            )
            assert 'class="tiles"' in page.text and "<title>Lund: &lt;5</title>" in page.text
            assert "<title>Helsingør: 12</title>" in page.text
            csv_file = await browser.get("/app/sites/m-og-s/reach.csv")
            assert csv_file.status_code == 200 and "skane" in csv_file.text
            every = await browser.get("/app/sites/reach.csv")
            assert every.status_code == 200 and "m-og-s" in every.text
            page = await browser.get(f"/app/campaigns/{campaign['id']}/reach", headers=headers)
            assert page.status_code == 200, page.text
            assert '<strong id="figure-recipients">0</strong>' in page.text
        site_page = await browser.get("/app/sites/m-og-s")
        assert 'href="/app/sites/m-og-s/reach"' in site_page.text
        assert (await browser.get("/app/sites/nope/reach")).status_code == 404
        assert (await browser.get("/app/campaigns/987654/reach")).status_code == 404
    async with httpx.AsyncClient(base_url=str(api.client.base_url), timeout=20) as stranger:
        response = await stranger.get("/app/sites/m-og-s/reach")
        assert response.status_code in (302, 303)


async def test_small_audiences_show_nothing_that_singles_anyone_out(
    api: Api, db: AsyncEngine
) -> None:
    site = await new_site(api, key="lille", country="SE", municipality="Ystad")
    await Residents(db).add("dk-koebenhavn", 3, site_id=site["id"])
    body = (await api.get("/api/sites/lille/reach")).json()
    assert body["audience"]["total"] is None
    assert _region(body["audience"], "dk")["residents"] is None
    assert body["other_municipality"] == {"residents": None, "percent": None}
    assert body["other_country"] == {"residents": None, "percent": None}
    assert body["months"][-1]["total"] is None


async def test_unknown_site_or_campaign_is_404(api: Api) -> None:
    for url in (
        "/api/sites/nope/reach",
        "/api/sites/nope/reach.csv",
        f"/api/sites/{'x' * 500}/reach",
        "/api/campaigns/987654/reach",
    ):
        response = await api.get(url)
        assert response.status_code == 404, (url, response.text)
    assert (await api.get("/api/campaigns/99999999999999999999999/reach")).status_code in (
        400,
        404,
    )


async def test_campaign_recipients_clicks_and_unsubscribes_by_place(
    api: Api, db: AsyncEngine
) -> None:
    campaign = await new_campaign(api)
    people = Residents(db)
    malmo = await people.add("se-malmo", 7)
    lund = await people.add("se-lund", 2)
    copenhagen = await people.add("dk-koebenhavn", 6)
    failed = await people.add("dk-koebenhavn", 1)
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(deliveries),
            [
                {
                    "campaign_id": campaign["id"],
                    "subscriber_id": subscriber,
                    "status": "failed" if subscriber in failed else "sent",
                    "attempts": 1,
                    "message_id": f"<m{subscriber}@test>",
                    "queued_at": NOW,
                    "updated_at": NOW,
                }
                for subscriber in malmo + lund + copenhagen + failed
            ],
        )
        link = (
            await conn.execute(
                sa.insert(campaign_links).values(
                    campaign_id=campaign["id"], url="https://a.test/", position=0
                )
            )
        ).inserted_primary_key[0]
        await conn.execute(
            sa.insert(link_clicks),
            [
                {
                    "link_id": link,
                    "subscriber_id": subscriber,
                    "campaign_id": campaign["id"],
                    "clicks": 2,
                    "first_at": NOW,
                    "last_at": NOW,
                }
                for subscriber in malmo[:5] + copenhagen[:1]
            ],
        )
        # Five left through this campaign's link; one through another campaign's.
        await conn.execute(
            sa.insert(audit_log),
            [
                {
                    "at": NOW,
                    "actor": "resident",
                    "action": "unsubscribed",
                    "subscriber_ref": address_digest(f"r{subscriber}@example.org"),
                    "details": {"via": "link", "campaign_id": campaign_id},
                }
                for subscriber, campaign_id in [(s, campaign["id"]) for s in malmo[:5]]
                + [(copenhagen[0], campaign["id"] + 1)]
            ],
        )
    response = await api.get(f"/api/campaigns/{campaign['id']}/reach")
    assert response.status_code == 200, response.text
    body = response.json()
    recipients = body["recipients"]
    assert recipients["total"] == 15
    assert _region(recipients, "dk")["residents"] == 6
    assert _region(recipients, "skane")["residents"] == 9
    assert (_area(recipients, "se-malmo"), _area(recipients, "se-lund")) == (None, None)
    clickers = body["clickers"]
    assert clickers["total"] == 6
    assert _region(clickers, "skane")["residents"] is None  # 5, but Denmark's 1 beside it
    assert _area(clickers, "se-malmo") is None
    unsubscribed = body["unsubscribed"]
    assert unsubscribed["total"] == 5
    assert _area(unsubscribed, "se-malmo") == 5
    assert _region(unsubscribed, "dk")["residents"] == 0


def test_withheld_counts_never_add_up_to_fewer_than_five() -> None:
    assert withhold({"a": 12, "b": 7, "c": 1}) == {"a": 12, "b": None, "c": None}
    assert withhold({"a": 0, "b": 9}) == {"a": 0, "b": 9}
    assert withhold({"a": 3}) == {"a": None}
    chance = random.Random(9)
    for _ in range(2000):
        parts = {str(key): chance.choice((0, 1, 2, 3, 4, 5, 6, 9, 40)) for key in range(6)}
        shown = withhold(parts)
        hidden = [parts[key] for key, value in shown.items() if value is None]
        assert sum(hidden) == 0 or sum(hidden) >= THRESHOLD or sum(parts.values()) < THRESHOLD
        assert all(value in (None, parts[key]) for key, value in shown.items())
        assert all(value is None for key, value in shown.items() if 0 < parts[key] < THRESHOLD)


def test_values_outside_the_list_keep_their_country() -> None:
    figures = breakdown({"dk-elsewhere": 5, "se-elsewhere": 6, "abroad": 7, "": 8})
    assert figures.region("dk").residents == 5
    assert figures.area("dk-elsewhere") is not None
    assert figures.region("se_other").residents == 6
    assert figures.region("abroad").residents == 7
    assert figures.region("unknown").residents == 8
