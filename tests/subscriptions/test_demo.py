"""Demo residents for a local run: enrolled like real sign-ups, varied, and seeded once."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from services.campaigns.admin import seed_demo
from services.subscriptions.demo import DEMO_DOMAIN, demo_residents, seed_demo_audience
from shared.db import create_engine
from shared.schema import consent_events, mailing_lists, subscribers, subscriptions
from shared.settings import Settings


async def test_demo_residents_enter_like_real_sign_ups_once(settings: Settings) -> None:
    await seed_demo(settings)
    expected = demo_residents()
    assert await seed_demo_audience(settings) == len(expected)
    assert await seed_demo_audience(settings) == 0  # safe to repeat

    engine = create_engine(settings.database_url)
    async with engine.connect() as conn:
        states = Counter(
            row.status
            for row in await conn.execute(
                sa.select(subscriptions.c.status)
                .select_from(subscriptions.join(mailing_lists))
                .where(mailing_lists.c.slug == "kultur")
            )
        )
        events = Counter(row.event for row in await conn.execute(sa.select(consent_events.c.event)))
        people = (await conn.execute(sa.select(subscribers))).mappings().all()
    await engine.dispose()

    # Every resident follows culture; most confirmed, some still pending, some left again.
    assert sum(states.values()) == len(expected)
    assert states["confirmed"] > len(expected) / 2
    assert states["pending"] >= 3 and states["unsubscribed"] >= 2
    # One consent event per resident and list, as a real sign-up records it.
    assert events["requested"] == sum(len(r.lists) for r in expected)
    assert events["confirmed"] > 0
    assert events["withdrawn"] >= 2
    assert all(p["email"].endswith("@" + DEMO_DOMAIN) for p in people)
    assert {p["language"] for p in people} == {"da", "sv", "en"}
    assert len({p["municipality"] for p in people}) >= 5
    # Spread over the weeks before today, for the charts of a fresh install.
    days = {p["created_at"].date() for p in people}
    assert len(days) >= 10
