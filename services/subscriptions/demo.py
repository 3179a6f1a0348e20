"""Demo residents for a local run: a small, varied audience so the staff app has something to
show and a first campaign reaches someone (the local SMTP catcher, never the internet).

They enter through the same enrolment and confirmation as a real sign-up, so their consent
records, list states and dates look like the real thing; only their addresses (``example.org``,
reserved for examples by RFC 2606) and their spread over the last weeks are made up.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import enrolment, queries
from services.subscriptions.consent import ConsentSource
from shared.clock import utcnow
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings

DEMO_DOMAIN: Final = "example.org"

_FIRST: Final = (
    ("Freja", "da"), ("Karl", "sv"), ("Ida", "da"), ("Elsa", "sv"), ("Mikkel", "da"),
    ("Oskar", "sv"), ("Sofie", "da"), ("Maja", "sv"), ("Noah", "en"), ("Alma", "da"),
    ("Liam", "sv"), ("Emma", "en"),
)  # fmt: skip
_LAST: Final = ("Jensen", "Nilsson", "Hansen", "Lindqvist", "Larsen", "Persson")
_MUNICIPALITIES: Final = (
    "dk-koebenhavn", "se-malmo", "dk-helsingoer", "se-helsingborg", "dk-frederiksberg",
    "se-lund", None,
)  # fmt: skip
# Which lists each resident joins, in turn: everyone follows culture, many sport, some youth.
_LIST_SETS: Final = (("kultur",), ("kultur", "idraet"), ("kultur", "boern-unge"), ("kultur",))


@dataclass(frozen=True)
class DemoResident:
    """One made-up resident: who, which lists, when they signed up and what they did since."""

    email: str
    name: str
    language: str
    municipality: str | None
    lists: tuple[str, ...]
    days_ago: int
    # "confirmed", "pending" (never clicked the link) or "unsubscribed" (left again).
    state: str


def demo_residents(count: int = 48) -> list[DemoResident]:
    """``count`` residents, the same every time: spread over 30 days, most of them confirmed."""
    residents = []
    for index in range(count):
        first, language = _FIRST[index % len(_FIRST)]
        last = _LAST[(index // len(_FIRST) + index) % len(_LAST)]
        state = "pending" if index % 9 == 4 else "unsubscribed" if index % 13 == 7 else "confirmed"
        residents.append(
            DemoResident(
                email=f"{first.lower()}.{last.lower()}.{index}@{DEMO_DOMAIN}",
                name=f"{first} {last}",
                language=language,
                municipality=_MUNICIPALITIES[index % len(_MUNICIPALITIES)],
                lists=_LIST_SETS[index % len(_LIST_SETS)],
                days_ago=(index * 7) % 30,
                state=state,
            )
        )
    return residents


async def seed_demo_residents(
    session: AsyncSession, now: datetime, site_key: str | None = None, count: int = 48
) -> int:
    """Enrol the demo residents that are missing (safe to repeat); return how many were added.

    The caller commits. No mail is sent: the demo's confirmations happen here, not by link.
    """
    site_id = await queries.get_site_id(session, site_key) if site_key else None
    added = 0
    for resident in demo_residents(count):
        if await queries.get_subscriber_by_email(session, resident.email) is not None:
            continue
        lists = await queries.get_public_lists(session, list(resident.lists))
        if not lists:
            continue
        joined = now - timedelta(days=resident.days_ago, hours=resident.days_ago % 7)
        subscriber = await queries.insert_subscriber(
            session,
            key=secrets.token_hex(16),
            email=resident.email,
            name=resident.name,
            language=resident.language,
            source_site_id=site_id,
            now=joined,
        )
        await queries.update_profile(
            session,
            subscriber.id,
            name=resident.name,
            language=resident.language,
            municipality=resident.municipality,
            custom_values=None,
            now=joined,
        )
        source = ConsentSource("form", site_id)
        enrolled = await enrolment.enrol(
            session,
            subscriber,
            lists,
            source=source,
            language=resident.language,
            now=joined,
            record_ip=False,
        )
        if resident.state != "pending":
            await enrolment.confirm(
                session,
                subscriber,
                enrolled.pending,
                now=joined + timedelta(minutes=12),
                ip=None,
                record_ip=False,
            )
        if resident.state == "unsubscribed":
            await enrolment.withdraw(
                session,
                subscriber,
                None,
                via="preferences",
                actor="demo",
                now=min(joined + timedelta(days=2), now),
            )
        added += 1
    return added


async def seed_demo_audience(settings: Settings, site_key: str | None = "demo-site") -> int:
    """Add the missing demo residents to the demo lists; return how many were added."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            added = await seed_demo_residents(session, utcnow(), site_key)
            await session.commit()
    finally:
        await engine.dispose()
    return added
