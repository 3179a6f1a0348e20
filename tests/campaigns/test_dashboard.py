"""The overview's figures (``GET /api/dashboard`` and ``/app/``) from seeded rows, on both
databases: campaigns under way, the last results, confirmed sign-ups per day, site and list."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import queries
from shared.db import create_sessionmaker
from shared.schema import (
    campaign_runs,
    campaigns,
    deliveries,
    mailing_lists,
    subscribers,
    subscriptions,
)
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import sign_in_as
from tests.campaigns.test_sites import new_site


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


class Seed:
    """Rows as the subscriptions service and the mailer would write them."""

    def __init__(self, db: AsyncEngine) -> None:
        self.db = db
        self.count = 0

    async def resident(
        self, site_id: int | None, lists: dict[str, tuple[str, datetime | None]]
    ) -> int:
        """One resident on ``lists`` (slug → status and confirmation time); return the id."""
        self.count += 1
        now = datetime.now(UTC)
        async with self.db.begin() as conn:
            ids = dict(
                (await conn.execute(sa.select(mailing_lists.c.slug, mailing_lists.c.id))).all()
            )
            subscriber_id = (
                await conn.execute(
                    sa.insert(subscribers)
                    .values(
                        key=f"{self.count:032d}",
                        email=f"r{self.count}@example.org",
                        language="da",
                        status="active",
                        source_site_id=site_id,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(subscribers.c.id)
                )
            ).scalar_one()
            for slug, (status, confirmed) in lists.items():
                await conn.execute(
                    sa.insert(subscriptions).values(
                        subscriber_id=subscriber_id,
                        list_id=ids[slug],
                        status=status,
                        source_site_id=site_id,
                        requested_at=(confirmed or now) - timedelta(minutes=5),
                        confirmed_at=confirmed,
                    )
                )
        return int(subscriber_id)

    async def campaign(
        self,
        subject: str,
        status: str,
        *,
        recipients: int | None = None,
        finished: datetime | None = None,
        run_state: str = "sending",
        ledger: dict[str, int] | None = None,
    ) -> int:
        """A campaign with, when ``recipients`` is given, the mailer's run and ledger rows."""
        now = datetime.now(UTC)
        async with self.db.begin() as conn:
            campaign_id = (
                await conn.execute(
                    sa.insert(campaigns)
                    .values(
                        subject=subject,
                        body="<p>x</p>",
                        status=status,
                        created_at=now,
                        updated_at=now,
                        send_requested_at=now,
                    )
                    .returning(campaigns.c.id)
                )
            ).scalar_one()
            if recipients is not None:
                await conn.execute(
                    sa.insert(campaign_runs).values(
                        campaign_id=campaign_id,
                        state=run_state,
                        recipients=recipients,
                        started_at=now,
                        finished_at=finished,
                    )
                )
            number = 0
            for delivery_status, count in (ledger or {}).items():
                for _ in range(count):
                    number += 1
                    await conn.execute(
                        sa.insert(deliveries).values(
                            campaign_id=campaign_id,
                            subscriber_id=number,
                            status=delivery_status,
                            message_id=f"<{campaign_id}.{number}@test>",
                            queued_at=now,
                            updated_at=now,
                        )
                    )
        return int(campaign_id)


async def test_sign_up_figures_per_day_site_and_list(api: Api, db: AsyncEngine) -> None:
    north = await new_site(api)
    south = await new_site(api, key="other", name="Lunds bibliotek")
    today = datetime.now(UTC).date()
    seed = Seed(db)
    # Today: two residents through north (one on two lists), one without a site.
    await seed.resident(
        north["id"],
        {"kultur": ("confirmed", at(today, 0)), "idraet": ("unsubscribed", at(today, 1))},
    )
    await seed.resident(north["id"], {"kultur": ("confirmed", at(today, 0))})
    await seed.resident(None, {"boern-unge": ("confirmed", at(today, 0))})
    # Three days ago through south; 29 days ago (the first day shown) through north.
    await seed.resident(south["id"], {"idraet": ("confirmed", at(today - timedelta(days=3), 23))})
    await seed.resident(north["id"], {"kultur": ("confirmed", at(today - timedelta(days=29), 0))})
    # Not counted: older than the 30 days, or never confirmed.
    await seed.resident(north["id"], {"kultur": ("confirmed", at(today - timedelta(days=30), 23))})
    await seed.resident(south["id"], {"kultur": ("pending", None)})

    response = await api.get("/api/dashboard")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["since"] == (today - timedelta(days=29)).isoformat()
    days = {item["date"]: item["signups"] for item in body["days"]}
    assert len(days) == 30 and sum(days.values()) == 5
    assert days[today.isoformat()] == 3
    assert days[(today - timedelta(days=3)).isoformat()] == 1
    assert days[(today - timedelta(days=29)).isoformat()] == 1
    sites = {item["key"]: item["signups"] for item in body["sites"]}
    assert sites == {"demo-site": 0, "malmo-bibliotek": 3, "other": 1, None: 1}
    lists = {item["slug"]: item["signups"] for item in body["lists"]}
    assert lists == {"kultur": 3, "idraet": 2, "boern-unge": 1}


async def test_campaigns_under_way_and_the_last_results(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    seed = Seed(db)
    sending = await seed.campaign(
        "Halfway", "sending", recipients=4, ledger={"sent": 1, "failed": 1, "queued": 2}
    )
    # A status this service does not know yet (scheduling): listed as stored.
    scheduled = await seed.campaign("Later", "scheduled")
    await seed.campaign("Draft", "draft")
    await seed.campaign("Broken", "sending", recipients=0, run_state="failed", finished=None)
    base = datetime.now(UTC) - timedelta(days=1)
    finished = [
        await seed.campaign(
            f"Done {n}",
            "sending",
            recipients=3,
            run_state="done",
            finished=base + timedelta(minutes=n),
            ledger={"sent": 1, "failed": 1, "bounced": 1},
        )
        for n in range(6)
    ]

    body = (await api.get("/api/dashboard")).json()
    active = {item["id"]: item for item in body["active"]}
    assert set(active) == {sending, scheduled}
    assert active[sending]["progress"] == 50.0
    assert active[sending]["counts"] == {
        "recipients": 4,
        "sent": 1,
        "failed": 1,
        "bounced": 0,
        "queued": 2,
    }
    assert active[scheduled]["status"] == "scheduled" and active[scheduled]["progress"] is None
    recent = body["recent"]
    assert [item["id"] for item in recent] == finished[:0:-1]  # the last five, latest first
    assert recent[0]["counts"] == {
        "recipients": 3,
        "sent": 1,
        "failed": 1,
        "bounced": 1,
        "queued": 0,
    }

    await sign_in_as(api.client, settings, "viewer")
    page = await api.client.get("/app/")
    assert page.status_code == 200
    assert "Signed in as Viewer" in page.text or "Logget ind som Viewer" in page.text
    for subject in ("Halfway", "Later", "Done 5", "Done 1"):
        assert subject in page.text
    assert "Done 0" not in page.text and "Draft" not in page.text and "Broken" not in page.text
    assert 'value="50.0"' in page.text
    assert 'hx-get="/app/overview/active"' in page.text
    # The part htmx reloads while campaigns send: the same table, without the page around it.
    part = await api.client.get("/app/overview/active")
    assert part.status_code == 200
    assert part.text.lstrip().startswith("<section") and "<html" not in part.text
    assert "Halfway" in part.text and 'value="50.0"' in part.text


async def test_overview_in_swedish_with_figures_as_tables(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    await Seed(db).resident(None, {"kultur": ("confirmed", datetime.now(UTC))})
    await sign_in_as(api.client, settings, "editor")
    page = await api.client.get("/app/", headers={"Accept-Language": "sv"})
    assert page.status_code == 200
    assert "<h1>Översikt</h1>" in page.text
    assert page.text.count('<figure class="chart">') == 3
    assert "Bekräftade anmälningar per dag" in page.text


async def test_sites_page_counts_subscriptions_by_status(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    site = await new_site(api)
    seed = Seed(db)
    now = datetime.now(UTC)
    await seed.resident(site["id"], {"kultur": ("confirmed", now), "idraet": ("pending", None)})
    await seed.resident(site["id"], {"kultur": ("confirmed", now - timedelta(days=90))})
    await seed.resident(site["id"], {"idraet": ("unsubscribed", now)})
    await seed.resident(None, {"kultur": ("confirmed", now)})
    await sign_in_as(api.client, settings, "viewer")
    page = await api.client.get("/app/sites", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    row = re.search(r'<a href="/app/sites/malmo-bibliotek">.*?</tr>', page.text, re.S)
    assert row
    assert re.findall(r"<td>(\d+)</td>", row.group(0)) == ["2", "2", "1", "1"]
    demo = re.search(r'<a href="/app/sites/demo-site">.*?</tr>', page.text, re.S)
    assert demo and re.findall(r"<td>(\d+)</td>", demo.group(0))[1:] == ["0", "0", "0"]


async def test_overview_rows_are_frozen_with_aware_times(api: Api, db: AsyncEngine) -> None:
    seed = Seed(db)
    finished_at = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    done = await seed.campaign(
        "Done", "sending", recipients=1, run_state="done", finished=finished_at
    )
    later = await seed.campaign("Later", "scheduled")
    async with create_sessionmaker(db)() as session:
        briefs = await queries.campaigns_in_status(session, ["scheduled"], 10)
        finished = await queries.finished_campaigns(session, ["sending"], 10)
    assert [row.id for row in briefs] == [later] and briefs[0].status == "scheduled"
    assert briefs[0].updated_at.utcoffset() == timedelta(0)
    assert [(row.id, row.finished_at) for row in finished] == [(done, finished_at)]
    assert finished[0].finished_at.utcoffset() == timedelta(0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finished[0].subject = "other"  # type: ignore[misc]
