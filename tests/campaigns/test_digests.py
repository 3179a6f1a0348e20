"""A weekly digest built from three institutions' feeds, sent through the real mailer and SMTP:
each reader sees their own municipality's events first; pinned events lead, dropped ones are
gone; the blocks are computed once per municipality and language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import digests, feeds
from services.campaigns.errors import Conflict, InvalidInput
from services.campaigns.queries.digests import DigestChoice
from services.mailer.worker import run_worker
from shared.clock import utcnow
from shared.db import create_sessionmaker
from shared.schema import digest_blocks, events, mailing_lists, member_sites, subscribers
from shared.settings import Settings
from tests.campaigns.conftest import Api, new_campaign
from tests.campaigns.sending_support import add_subscribers
from tests.mailer.support import FAST
from tests.support.feeds import FeedApp, ics_feed, rss_feed
from tests.support.smtp import RecordingSMTPServer

CPH = ZoneInfo("Europe/Copenhagen")
STHLM = ZoneInfo("Europe/Stockholm")


def _day(offset: int, hour: int) -> datetime:
    today = datetime.now(CPH).date()
    return datetime.combine(today + timedelta(days=offset), datetime.min.time()).replace(hour=hour)


@pytest.fixture
async def feed_server(live_server: Any) -> AsyncIterator[tuple[FeedApp, str]]:
    app = FeedApp()
    async with live_server(app) as server:
        yield app, server.url


async def _three_institutions(db: AsyncEngine, settings: Settings, url: str) -> None:
    now = datetime.now(UTC)
    async with db.begin() as conn:
        for key, name, municipality, country in (
            ("kunsthal", "Kunsthallen", "dk-koebenhavn", "DK"),
            ("konsthall", "Konsthallen", "se-malmo", "SE"),
            ("kronborg", "Kronborg Slot", "dk-helsingoer", "DK"),
        ):
            await conn.execute(
                sa.insert(member_sites).values(
                    key=key,
                    name=name,
                    municipality=municipality,
                    country=country,
                    allowed_origins=[],
                    default_lists=["kultur"],
                    default_language="da",
                    created_at=now,
                )
            )
    async with create_sessionmaker(db)() as session:
        await feeds.register_feed(session, "kunsthal", f"{url}/kbh.ics", "kultur", "dk-koebenhavn")
        await feeds.register_feed(session, "konsthall", f"{url}/malmo.rss", "kultur", "se-malmo")
        await feeds.register_feed(
            session, "kronborg", f"{url}/kronborg.ics", "kultur", "dk-helsingoer"
        )
        async with httpx.AsyncClient() as client:
            assert len(await feeds.refresh_due(session, client, settings, utcnow())) == 3


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_weekly_digest_from_three_feeds_puts_each_readers_municipality_first(
    api: Api,
    db: AsyncEngine,
    settings: Settings,
    smtp_server: RecordingSMTPServer,
    feed_server: tuple[FeedApp, str],
) -> None:
    app, url = feed_server
    app.publish(
        "/kbh.ics",
        ics_feed(
            [
                ("kbh-1", "Kunstnersamtale", _day(1, 17), "Kunsthallen"),
                ("kbh-2", "Lukket visning", _day(2, 18), "Kælderen"),
            ]
        ),
    )
    app.publish(
        "/malmo.rss",
        rss_feed([("mmo-1", "Vernissage", _day(2, 18).replace(tzinfo=STHLM), "Konsthallen")]),
    )
    app.publish(
        "/kronborg.ics",
        ics_feed(
            [
                ("hel-1", "Hamlet", _day(3, 20), "Kronborg"),
                ("hel-2", "Next month", _day(20, 20), "Kronborg"),
            ]
        ),
    )
    await _three_institutions(db, settings, url)
    ids = await add_subscribers(
        db,
        "kultur",
        [
            ("anne@example.dk", "Anne", "da"),
            ("bjorn@example.se", "Björn", "sv"),
            ("carl@example.org", "Carl", "en"),
        ],
    )
    async with db.begin() as conn:
        for email, municipality in (
            ("anne@example.dk", "dk-koebenhavn"),
            ("bjorn@example.se", "se-malmo"),
        ):
            await conn.execute(
                sa.update(subscribers)
                .where(subscribers.c.id == ids[email])
                .values(municipality=municipality)
            )
        event_ids = {
            row.uid: int(row.id) for row in await conn.execute(sa.select(events.c.id, events.c.uid))
        }
        kultur = (
            await conn.execute(
                sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == "kultur")
            )
        ).scalar_one()

    campaign = await new_campaign(
        api, subject="Ugens kultur", body="<h1>Ugens kultur</h1>\n{{ digest }}", body_text=None
    )
    today = datetime.now(CPH).date()
    choice = DigestChoice(
        starts_on=today,
        ends_on=today + timedelta(days=6),
        list_ids=(kultur,),
        pinned=frozenset({event_ids["hel-1"]}),
        dropped=frozenset({event_ids["kbh-2"]}),
    )
    async with create_sessionmaker(db)() as session:
        saved = await digests.save_digest(session, int(campaign["id"]), choice)
    # The week's three institutions' events; the one next month is outside the period.
    assert sorted(event.title for event in saved.events) == [
        "Hamlet",
        "Kunstnersamtale",
        "Lukket visning",
        "Vernissage",
    ]
    # One block per language for each municipality with events (after dropping), plus one
    # for every other reader: never one per recipient.
    async with db.connect() as conn:
        keys = {
            (row.language, row.municipality) for row in await conn.execute(sa.select(digest_blocks))
        }
    assert keys == {
        (language, municipality)
        for language in ("da", "sv", "en")
        for municipality in ("", "dk-koebenhavn", "dk-helsingoer", "se-malmo")
    }

    # A test send as a subscriber renders the digest too (the general block).
    tested = await api.post(
        f"/api/campaigns/{campaign['id']}/test",
        json={"to": ["editor@kultur.test"], "subscriber_id": ids["anne@example.dk"]},
    )
    assert tested.status_code in {200, 202}, tested.text

    sent = await api.post(f"/api/campaigns/{campaign['id']}/send")
    assert sent.status_code == 202, sent.text
    await run_worker(settings, burst=True, options=FAST)

    def order(email: str, *titles: str) -> list[int]:
        [received] = smtp_server.to(email)
        html = _html(received.parsed())
        assert "Lukket visning" not in html  # dropped
        return [html.index(title) for title in titles]

    # Anne in København: pinned Hamlet first, then her own municipality, then the others.
    anne = order(
        "anne@example.dk",
        "Fremhævet",
        "Hamlet",
        "København",
        "Kunstnersamtale",
        "Malmö",
        "Vernissage",
    )
    assert anne == sorted(anne)
    # Björn in Malmö: his own first, in Swedish.
    bjorn = order(
        "bjorn@example.se",
        "Utvalda",
        "Hamlet",
        "Malmö",
        "Vernissage",
        "København",
        "Kunstnersamtale",
    )
    assert bjorn == sorted(bjorn)
    # Carl has no municipality: the general block, the municipalities by name, in English.
    carl = order(
        "carl@example.org",
        "Highlights",
        "Hamlet",
        "København",
        "Kunstnersamtale",
        "Malmö",
        "Vernissage",
    )
    assert carl == sorted(carl)
    [received] = smtp_server.to("bjorn@example.se")
    message = received.parsed()
    html = _html(message)
    assert 'href="https://example.org/rss/mmo-1"' in html
    assert 'src="https://example.org/img/mmo-1.jpg"' in html
    assert "Konsthallen" in html and "18:00" in html
    assert "Vernissage" in _text(message)  # the text part carries the digest too
    assert "{{" not in html and "&lt;table" not in html


async def test_a_digest_is_a_drafts_and_needs_a_period_and_topic(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    campaign = await new_campaign(api, body="{{ digest }}")
    today = date.today()
    async with create_sessionmaker(db)() as session:
        with pytest.raises(InvalidInput) as caught:
            await digests.save_digest(
                session,
                int(campaign["id"]),
                DigestChoice(today, today - timedelta(days=1), (), frozenset(), frozenset()),
            )
        assert set(caught.value.errors) == {"ends_on", "lists"}
    sent = await api.post(f"/api/campaigns/{campaign['id']}/send")
    assert sent.status_code == 202, sent.text
    async with create_sessionmaker(db)() as session:
        with pytest.raises(Conflict):
            await digests.save_digest(
                session,
                int(campaign["id"]),
                DigestChoice(today, today, (1,), frozenset(), frozenset()),
            )
