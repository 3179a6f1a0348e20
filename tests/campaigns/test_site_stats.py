"""Sign-ups per member site, counted from subscriptions rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import mailing_lists, subscribers, subscriptions
from tests.campaigns.conftest import Api
from tests.campaigns.test_sites import new_site


class Rows:
    """Inserts subscribers and their subscriptions as the subscriptions service would."""

    def __init__(self, db: AsyncEngine) -> None:
        self.db = db
        self.count = 0

    async def add(self, site_id: int | None, when: datetime, lists: dict[str, str]) -> None:
        """One resident signing up at ``when`` to ``lists`` (slug → status)."""
        self.count += 1
        async with self.db.begin() as conn:
            list_ids = dict(
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
                        created_at=when,
                        updated_at=when,
                    )
                    .returning(subscribers.c.id)
                )
            ).scalar_one()
            for slug, status in lists.items():
                await conn.execute(
                    sa.insert(subscriptions).values(
                        subscriber_id=subscriber_id,
                        list_id=list_ids[slug],
                        status=status,
                        source_site_id=site_id,
                        requested_at=when,
                    )
                )


def day_at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


async def test_counts_by_status_and_day(api: Api, db: AsyncEngine) -> None:
    site = await new_site(api)
    other = await new_site(api, key="other")
    today = datetime.now(UTC).date()
    rows = Rows(db)
    # Two residents today, one of them on two lists: two sign-ups, three subscriptions.
    await rows.add(site["id"], day_at(today, 0), {"kultur": "pending", "idraet": "confirmed"})
    await rows.add(site["id"], day_at(today, 0), {"kultur": "confirmed"})
    await rows.add(site["id"], day_at(today - timedelta(days=3), 23), {"kultur": "unsubscribed"})
    await rows.add(site["id"], day_at(today - timedelta(days=29), 0), {"boern-unge": "confirmed"})
    # Counted by status, but older than the 30 days shown.
    await rows.add(site["id"], day_at(today - timedelta(days=30), 23), {"kultur": "confirmed"})
    # Other sites and sign-ups without a site are not this site's.
    await rows.add(other["id"], day_at(today, 0), {"kultur": "pending"})
    await rows.add(None, day_at(today, 0), {"kultur": "pending"})

    response = await api.get("/api/sites/malmo-bibliotek/stats")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["site"] == "malmo-bibliotek"
    assert body["subscriptions"] == {"pending": 1, "confirmed": 4, "unsubscribed": 1}
    days = body["days"]
    assert len(days) == 30
    assert days[0]["date"] == (today - timedelta(days=29)).isoformat()
    assert days[-1]["date"] == today.isoformat()
    signups = {day["date"]: day["signups"] for day in days if day["signups"]}
    assert signups == {
        today.isoformat(): 2,
        (today - timedelta(days=3)).isoformat(): 1,
        (today - timedelta(days=29)).isoformat(): 1,
    }


async def test_site_without_signups(api: Api) -> None:
    body = (await api.get("/api/sites/demo-site/stats")).json()
    assert body["subscriptions"] == {"pending": 0, "confirmed": 0, "unsubscribed": 0}
    assert len(body["days"]) == 30 and not any(day["signups"] for day in body["days"])
