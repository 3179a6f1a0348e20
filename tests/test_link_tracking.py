"""Click and open tracking end to end: the mailer rewrites a campaign's links once, the public
redirect goes only to stored URLs and appends clicks to Redis, the campaigns service writes them
in batches. Real SMTP, Redis, HTTP and both databases."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import sqlalchemy as sa
from redis.asyncio import Redis

from services.campaigns.engagement import EngagementReader
from services.mailer import queries as mailer_queries
from services.mailer.runtime import MailerRuntime
from services.mailer.worker import run_worker
from services.subscriptions.app import create_app
from shared import links
from shared.db import create_engine, create_sessionmaker
from shared.events import ENGAGEMENT_STREAM
from shared.schema import campaign_links, campaign_opens, campaigns, link_clicks
from shared.settings import Settings
from shared.tokens import TokenSigner
from tests.conftest import app_for
from tests.mailer.seed import Person, fetch, seed
from tests.mailer.support import FAST, enqueue_start
from tests.support.smtp import RecordingSMTPServer

PEOPLE = [
    Person("anne@example.dk", "Anne", "da", {"kultur": "confirmed"}),
    Person("bjorn@example.se", "Björn", "sv", {"kultur": "confirmed"}),
]
PROGRAMME = "https://kultur.example.dk/program?uge=48&sted=malmö"
TICKETS = "https://billetter.example.se/"
BODY = (
    "<html><body><p>Hej {{ subscriber.name }}</p>"
    # The same URL twice is one tracked link; &amp; is the & of the stored URL.
    '<p><a href="https://kultur.example.dk/program?uge=48&amp;sted=malmö">Program</a> · '
    f'<a class="button" href="{TICKETS}">Billetter</a> · '
    '<a href="https://kultur.example.dk/program?uge=48&amp;sted=malmö">igen</a></p>'
    # Not tracked: a URL built by an expression, mail, our own links.
    '<p><a href="https://kultur.example.dk/{{ subscriber.language }}">sprog</a> '
    '<a href="mailto:info@kultur.example.dk">skriv</a> '
    '<a href="{{ unsubscribe_url }}">afmeld</a></p></body></html>'
)
SHORT_LINK = re.compile(r'href="http://subscriptions\.test(/l/[A-Za-z0-9_.\-]+)"')
VIEW = re.compile(r'href="http://subscriptions\.test(/v/[A-Za-z0-9_.\-]+)"')
PIXEL = re.compile(r'src="http://subscriptions\.test(/o/[A-Za-z0-9_.\-]+\.gif)"')


def _html(smtp_server: RecordingSMTPServer, address: str) -> str:
    body = smtp_server.to(address)[0].parsed().get_body(("html",))
    assert body is not None
    content: str = body.get_content()
    return content


async def _counts(settings: Settings) -> dict[tuple[int, int], int]:
    rows = await fetch(settings.database_url, sa.select(link_clicks))
    return {(int(r["link_id"]), int(r["subscriber_id"])): int(r["clicks"]) for r in rows}


async def _written(settings: Settings, redis: Redis, expected: int) -> None:
    """Run the campaigns service's reader until the stream's entries are written."""
    engine = create_engine(settings.database_url)
    reader = EngagementReader(redis, create_sessionmaker(engine), block_ms=100)
    reader.start()
    try:
        for _ in range(200):
            opens = await fetch(settings.database_url, sa.select(campaign_opens))
            clicks = sum((await _counts(settings)).values())
            if clicks + sum(int(r["opens"]) for r in opens) >= expected:
                break
            await asyncio.sleep(0.05)
    finally:
        await reader.stop()
        await engine.dispose()


async def test_links_are_rewritten_once_and_redirect_only_to_stored_urls(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis, live_server: Any
) -> None:
    campaign_id, ids = await seed(settings.database_url, PEOPLE, body=BODY)
    engine = create_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(campaigns).where(campaigns.c.id == campaign_id).values(track_opens=True)
        )
    await enqueue_start(settings, campaign_id)
    await run_worker(settings, burst=True, options=FAST)

    stored = await fetch(
        settings.database_url, sa.select(campaign_links).order_by(campaign_links.c.position)
    )
    assert [(r["url"], r["position"]) for r in stored] == [(PROGRAMME, 0), (TICKETS, 1)]
    programme, tickets = (int(r["id"]) for r in stored)
    # Another mailer process preparing the same campaign finds the same ids and adds none.
    other = MailerRuntime.start(settings, FAST)
    try:
        async with other.engine.begin() as conn:
            source = await mailer_queries.get_campaign(conn, campaign_id)
            assert source is not None
            compiled = await other.campaigns.prepare(conn, source)
    finally:
        await other.close()
    assert compiled.link_ids == (programme, tickets)
    assert len(await fetch(settings.database_url, sa.select(campaign_links))) == 2

    anne, bjorn = _html(smtp_server, "anne@example.dk"), _html(smtp_server, "bjorn@example.se")
    anne_links = SHORT_LINK.findall(anne)
    assert len(anne_links) == 3 and anne_links[0] == anne_links[2] != anne_links[1]
    assert 'href="https://kultur.example.dk/da"' in anne  # the expression's URL, untracked
    assert 'href="mailto:info@kultur.example.dk"' in anne
    assert "http://subscriptions.test/unsubscribe/" in anne
    assert "Vis i browseren" in anne and "Visa i webbläsaren" in bjorn
    text = smtp_server.to("anne@example.dk")[0].parsed().get_body(("plain",))
    assert text is not None and "http://subscriptions.test/l/" in text.get_content()
    [anne_pixel] = PIXEL.findall(anne)
    bjorn_programme = SHORT_LINK.findall(bjorn)[0]
    assert bjorn_programme != anne_links[0]  # per recipient

    signer = TokenSigner(settings.secret_keys)
    token = anne_links[0].removeprefix("/l/")
    unknown = links.sign_clicks(signer, "key0000", [tickets + 1000])[0]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    other_campaign_link = token.split(".")  # another link id under Anne's signature
    other_campaign_link[0] = links.sign_clicks(signer, "key0000", [tickets])[0].split(".")[0]
    unsubscribe = links.sign_unsubscribe(signer, "key0000", campaign_id, [])
    async with (
        live_server(app_for(create_app, settings)) as server,
        httpx.AsyncClient(base_url=server.url, follow_redirects=False, timeout=10) as http,
    ):
        for bad in (tampered, unknown, ".".join(other_campaign_link), unsubscribe, "x" * 3000):
            answer = await http.get(f"/l/{bad}", headers={"Accept-Language": "sv"})
            assert answer.status_code == 404, bad
            assert "location" not in answer.headers
            assert answer.headers["content-type"].startswith("text/html")
            assert 'lang="sv"' in answer.text and "Sidan finns inte" in answer.text
        assert await redis.xlen(ENGAGEMENT_STREAM) == 0  # nothing recorded for any of them

        for path in (anne_links[0], anne_links[0], anne_links[1], bjorn_programme):
            answer = await http.get(path)
            assert answer.status_code == 302
            assert answer.headers["cache-control"].startswith("no-store")
            assert answer.headers["referrer-policy"] == "no-referrer"
        # Exactly the stored URL, its ö written as UTF-8 percent escapes (headers are ASCII).
        assert answer.headers["location"] == PROGRAMME.replace("ö", "%C3%B6")
        assert (await http.get(anne_links[1])).headers["location"] == TICKETS

        pixel = await http.get(anne_pixel)
        assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
        assert pixel.content.startswith(b"GIF89a")
        assert (await http.get(anne_pixel.replace(".gif", ".png"))).status_code == 404

        # "View in the browser" (the campaign is not public): Anne's own copy, sandboxed.
        [view] = VIEW.findall(anne)
        copy = await http.get(view)
        assert copy.status_code == 200 and "Hej Anne" in copy.text
        assert copy.headers["content-security-policy"].startswith("sandbox;")
        assert copy.headers["cache-control"].startswith("no-store")
        assert "http://subscriptions.test/unsubscribe/" in copy.text
        assert "/l/" not in copy.text  # the web copy's links go straight to their pages
        assert (await http.get(view[:-4] + "AAAA")).status_code == 404
        # Not public: no archive page for it.
        assert (await http.get(f"/archive/campaigns/{campaign_id}")).status_code == 404
    await engine.dispose()
    assert await redis.xlen(ENGAGEMENT_STREAM) == 6

    await _written(settings, redis, expected=6)
    anne_id, bjorn_id = ids["anne@example.dk"], ids["bjorn@example.se"]
    assert await _counts(settings) == {
        (programme, anne_id): 2,
        (tickets, anne_id): 2,
        (programme, bjorn_id): 1,
    }
    [opened] = await fetch(settings.database_url, sa.select(campaign_opens))
    assert (opened["campaign_id"], opened["subscriber_id"], opened["opens"]) == (
        campaign_id,
        anne_id,
        1,
    )
    assert await redis.xpending(ENGAGEMENT_STREAM, "campaigns") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
