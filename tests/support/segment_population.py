"""A known population for the segment tests: residents with every property a rule looks at.

Eligible (active, confirmed somewhere, never bounced): a, b, c, d, h. Not eligible: e (only
pending), f (bounced address), g (a delivery bounced), so no rule may ever return them.
Campaigns 1, 2, 3 started 30, 20 and 10 days ago; a clicked in 3, d in 2, b in 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from secrets import token_hex
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import (
    campaign_links,
    campaign_runs,
    campaigns,
    deliveries,
    link_clicks,
    mailing_lists,
    member_sites,
    subscribers,
    subscriptions,
)

ELIGIBLE = frozenset("abcdh")

# Custom fields the population's values fit (POST /api/fields bodies).
FIELDS: list[dict[str, Any]] = [
    {"key": "age", "type": "number"},
    {"key": "member", "type": "boolean"},
    {"key": "area", "type": "choice", "choices": ["nord", "syd"]},
    {"key": "note", "type": "text"},
    {"key": "birthday", "type": "date"},
]


@dataclass
class Resident:
    """One subscriber of the population; ``lists`` maps slug to (state, confirmed days ago)."""

    language: str
    created_days_ago: int
    lists: dict[str, tuple[str, int]]
    municipality: str | None = None
    site: str | None = None
    custom: dict[str, Any] | None = None
    status: str = "active"
    clicked_in: list[int] = field(default_factory=list)
    bounced_in: list[int] = field(default_factory=list)


POPULATION: dict[str, Resident] = {
    "a": Resident(
        "da",
        100,
        {"kultur": ("confirmed", 100)},
        municipality="dk-koebenhavn",
        site="demo-site",
        custom={
            "age": 30,
            "member": True,
            "area": "nord",
            "note": "Loves jazz",
            "birthday": "1990-05-01",
        },
        clicked_in=[3],
    ),
    "b": Resident(
        "sv",
        10,
        {"idraet": ("confirmed", 5)},
        municipality="se-malmo",
        site="skane-site",
        custom={"age": 45, "member": False, "area": "syd"},
        clicked_in=[1],
    ),
    "c": Resident("en", 2, {"kultur": ("confirmed", 1), "idraet": ("confirmed", 1)}),
    "d": Resident(
        "da",
        400,
        {"boern-unge": ("confirmed", 400)},
        municipality="se-lund",
        site="demo-site",
        custom={"age": 18},
        clicked_in=[2],
    ),
    "e": Resident("da", 50, {"kultur": ("pending", 0)}, municipality="dk-aarhus"),
    "f": Resident(
        "sv", 60, {"kultur": ("confirmed", 60)}, municipality="se-malmo", status="bounced"
    ),
    "g": Resident(
        "da", 70, {"kultur": ("confirmed", 70)}, municipality="dk-odense", bounced_in=[1]
    ),
    "h": Resident(
        "da",
        25,
        {"kultur": ("unsubscribed", 25), "idraet": ("confirmed", 20)},
        municipality="dk-koebenhavn",
    ),
}


async def build_population(db: AsyncEngine, now: datetime | None = None) -> dict[str, int]:
    """Insert the population (the demo lists and site must exist); subscriber ids by letter."""
    now = now or datetime.now(UTC)
    ids: dict[str, int] = {}
    async with db.begin() as conn:
        lists = dict(
            (await conn.execute(sa.select(mailing_lists.c.slug, mailing_lists.c.id))).all()
        )
        await conn.execute(
            sa.insert(member_sites).values(
                key="skane-site",
                name="Skåne site",
                country="SE",
                allowed_origins=[],
                default_lists=[],
                default_language="sv",
                created_at=now,
            )
        )
        sites = dict((await conn.execute(sa.select(member_sites.c.key, member_sites.c.id))).all())
        sent, links = await _campaigns(conn, now)
        for letter, who in POPULATION.items():
            created = now - timedelta(days=who.created_days_ago)
            ids[letter] = int(
                (
                    await conn.execute(
                        sa.insert(subscribers)
                        .values(
                            key=token_hex(16),
                            email=f"{letter}@segments.test",
                            name=letter.upper(),
                            language=who.language,
                            status=who.status,
                            source_site_id=sites.get(who.site) if who.site else None,
                            created_at=created,
                            updated_at=created,
                            municipality=who.municipality,
                            custom_values=who.custom,
                            # As the subscriptions service keeps it with the subscriptions.
                            confirmed_lists=sum(
                                state == "confirmed" for state, _ in who.lists.values()
                            ),
                        )
                        .returning(subscribers.c.id)
                    )
                ).scalar_one()
            )
            for slug, (state, days_ago) in who.lists.items():
                at = now - timedelta(days=days_ago)
                await conn.execute(
                    sa.insert(subscriptions).values(
                        subscriber_id=ids[letter],
                        list_id=lists[slug],
                        status=state,
                        requested_at=at,
                        confirmed_at=at if state != "pending" else None,
                        unsubscribed_at=at if state == "unsubscribed" else None,
                    )
                )
            for number in who.clicked_in:
                await conn.execute(
                    sa.insert(link_clicks).values(
                        link_id=links[number],
                        subscriber_id=ids[letter],
                        campaign_id=sent[number],
                        clicks=1,
                        first_at=now,
                        last_at=now,
                    )
                )
            for number in who.bounced_in:
                await conn.execute(
                    sa.insert(deliveries).values(
                        campaign_id=sent[number],
                        subscriber_id=ids[letter],
                        status="bounced",
                        attempts=1,
                        message_id=f"<{letter}.{number}@segments.test>",
                        queued_at=now,
                        updated_at=now,
                    )
                )
    return ids


async def _campaigns(conn: Any, now: datetime) -> tuple[dict[int, int], dict[int, int]]:
    """Campaigns 1-3, sent 30, 20 and 10 days ago, one tracked link each: their ids and their
    links' ids by number."""
    sent: dict[int, int] = {}
    links: dict[int, int] = {}
    for number, days_ago in ((1, 30), (2, 20), (3, 10)):
        started = now - timedelta(days=days_ago)
        sent[number] = int(
            (
                await conn.execute(
                    sa.insert(campaigns)
                    .values(
                        subject=f"Campaign {number}",
                        body="<p>Hej</p>",
                        status="sending",
                        created_at=started,
                        updated_at=started,
                        send_requested_at=started,
                    )
                    .returning(campaigns.c.id)
                )
            ).scalar_one()
        )
        await conn.execute(
            sa.insert(campaign_runs).values(
                campaign_id=sent[number], state="done", recipients=1, started_at=started
            )
        )
        links[number] = int(
            (
                await conn.execute(
                    sa.insert(campaign_links)
                    .values(campaign_id=sent[number], url="https://kultur.test/", position=0)
                    .returning(campaign_links.c.id)
                )
            ).scalar_one()
        )
    return sent, links
