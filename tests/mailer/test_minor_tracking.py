"""Campaign mail to a minor is never tracked: the links staff wrote and no open pixel, while an
adult on the same campaign gets tracked links and the pixel. Real SMTP, Redis, both databases."""

from __future__ import annotations

import re

import sqlalchemy as sa
from redis.asyncio import Redis

from services.mailer.worker import run_worker
from shared.db import create_engine
from shared.schema import campaigns, subscribers
from shared.settings import Settings
from tests.mailer.seed import Person, seed
from tests.mailer.support import FAST, enqueue_start
from tests.support.smtp import RecordingSMTPServer

PEOPLE = [
    Person("voksen@example.dk", "Karen", "da", {"kultur": "confirmed"}),
    Person("elsa@malmo.example.se", "Elsa", "sv", {"kultur": "confirmed"}),
]
PROGRAMME = "https://kultur.example.dk/program?uge=48&amp;sted=malm%C3%B6"
BODY = (
    '<html><body><p>Hej {{ subscriber.name }}</p><p><a href="' + PROGRAMME + '">Program</a> '
    '<a href="https://billetter.example.se/">Billetter</a></p></body></html>'
)
SHORT_LINK = re.compile(r'href="http://subscriptions\.test/l/[A-Za-z0-9_.\-]+"')
PIXEL = re.compile(r'src="http://subscriptions\.test/o/[A-Za-z0-9_.\-]+\.gif"')


def _parts(smtp_server: RecordingSMTPServer, address: str) -> tuple[str, str]:
    parsed = smtp_server.to(address)[0].parsed()
    html, text = parsed.get_body(("html",)), parsed.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


async def test_mail_to_a_minor_has_the_original_links_and_no_pixel(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    # ``redis``: an empty queue database, so no finished job of an earlier test with the same
    # campaign id makes this start job a duplicate.
    campaign_id, ids = await seed(settings.database_url, PEOPLE, body=BODY)
    engine = create_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(campaigns).where(campaigns.c.id == campaign_id).values(track_opens=True)
        )
        await conn.execute(
            sa.update(subscribers)
            .where(subscribers.c.id == ids["elsa@malmo.example.se"])
            .values(minor=True, birth_year=2014)
        )
    await engine.dispose()

    await enqueue_start(settings, campaign_id)
    await run_worker(settings, burst=True, options=FAST)

    adult_html, adult_text = _parts(smtp_server, "voksen@example.dk")
    assert len(SHORT_LINK.findall(adult_html)) == 2
    assert len(PIXEL.findall(adult_html)) == 1
    assert "http://subscriptions.test/l/" in adult_text

    minor_html, minor_text = _parts(smtp_server, "elsa@malmo.example.se")
    assert SHORT_LINK.findall(minor_html) == [] and PIXEL.findall(minor_html) == []
    assert "/l/" not in minor_text and "/o/" not in minor_html
    assert f'href="{PROGRAMME}"' in minor_html
    assert 'href="https://billetter.example.se/"' in minor_html
    assert "https://billetter.example.se/" in minor_text
    # Her own unsubscribe link is there as for everyone.
    assert "http://subscriptions.test/unsubscribe/" in minor_html
