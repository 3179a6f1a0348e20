"""The public archive: pages per language and an Atom feed per list, only for campaigns marked
public and sent, rendered for a neutral reader with no personal data and no working tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import (
    campaign_lists,
    campaign_runs,
    campaign_variants,
    campaigns,
    digest_blocks,
)

SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SUBJECT = (
    "{% if subscriber.language == 'sv' %}Nyheter{% else %}Nyheder{% endif %} {{ campaign.id }}"
)
BODY = (
    "<p>{% if subscriber.language == 'sv' %}Hej{% else %}Hej med dig{% endif %}"
    " {{ subscriber.name }}{{ subscriber.email }}</p>"
    '<a href="{{ unsubscribe_url }}">afmeld</a> <a href="{{ view_url }}">web</a>'
    "<script>alert(1)</script>"
)


async def _campaign(
    engine: AsyncEngine, list_id: int, *, public: bool, finished: bool = True, **values: object
) -> int:
    async with engine.begin() as conn:
        campaign_id = int(
            (
                await conn.execute(
                    sa.insert(campaigns).values(
                        **{
                            "subject": SUBJECT,
                            "body": BODY,
                            "status": "sending",
                            "archive_public": public,
                            "created_at": SENT,
                            "updated_at": SENT,
                            **values,
                        }
                    )
                )
            ).inserted_primary_key[0]
        )
        await conn.execute(
            sa.insert(campaign_lists).values(campaign_id=campaign_id, list_id=list_id)
        )
        await conn.execute(
            sa.insert(campaign_runs).values(
                campaign_id=campaign_id,
                state="done" if finished else "sending",
                recipients=1,
                started_at=SENT,
                finished_at=SENT if finished else None,
            )
        )
    return campaign_id


async def test_public_sent_campaigns_have_pages_and_a_feed_without_personal_data(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    public = await _campaign(engine, lists["kultur"], public=True)
    private = await _campaign(engine, lists["kultur"], public=False)
    unfinished = await _campaign(engine, lists["kultur"], public=True, finished=False)
    cancelled = await _campaign(engine, lists["kultur"], public=True, status="cancelled")
    internal = await _campaign(engine, lists["intern"], public=True)

    index = await client.get("/archive/lists/kultur?lang=sv")
    assert index.status_code == 200 and 'lang="sv"' in index.text
    assert f'href="/archive/campaigns/{public}?lang=sv">Nyheter {public}</a>' in index.text
    for other in (private, unfinished, cancelled, internal):
        assert f"/archive/campaigns/{other}?" not in index.text
    # A list that is not public has no archive, nor one that does not exist.
    assert (await client.get("/archive/lists/intern")).status_code == 404
    assert (await client.get("/archive/lists/nope")).status_code == 404

    page = await client.get(f"/archive/campaigns/{public}", headers={"Accept-Language": "da"})
    assert page.status_code == 200
    assert f"<h1>Nyheder {public}</h1>" in page.text
    assert f'src="/archive/campaigns/{public}/content?lang=da"' in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    content = await client.get(f"/archive/campaigns/{public}/content?lang=sv")
    assert content.status_code == 200 and "<p>Hej </p>" in content.text  # no name, no address
    assert content.headers["content-security-policy"].startswith("sandbox;")
    # Its unsubscribe links lead to a page that explains; no token anywhere.
    assert "/unsubscribe/" not in content.text and "/preferences/" not in content.text
    assert "http://subscriptions.test/archive/about?lang=sv" in content.text
    assert f"http://subscriptions.test/archive/campaigns/{public}" in content.text
    about = await client.get("/archive/about?lang=en")
    assert about.status_code == 200 and "links at the bottom of the email" in about.text
    for other in (private, unfinished, cancelled, 0, 2**64):
        assert (await client.get(f"/archive/campaigns/{other}")).status_code == 404
        assert (await client.get(f"/archive/campaigns/{other}/content")).status_code == 404

    feed = await client.get("/archive/lists/kultur/feed.atom?lang=da")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    atom = "{http://www.w3.org/2005/Atom}"
    entries = root.findall(f"{atom}entry")
    assert [e.findtext(f"{atom}title") for e in entries] == [f"Nyheder {public}"]
    [link] = entries[0].findall(f"{atom}link")
    assert link.get("href") == f"http://subscriptions.test/archive/campaigns/{public}?lang=da"
    assert entries[0].findtext(f"{atom}updated") == SENT.isoformat()


async def test_the_archive_shows_each_languages_variant_and_a_layouts_own_footer(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    # A compiled layout body carries its footer; the Swedish variant is the page in Swedish.
    layout_body = (
        '<div class="footer"><a href="{{ view_url }}">web</a> '
        '<a href="{{ unsubscribe_url }}">afmeld</a></div>'
    )
    campaign_id = await _campaign(
        engine,
        lists["kultur"],
        public=True,
        subject="Nyheder",
        body="<p>Dansk tekst</p>" + layout_body,
        layout="simple",
        fallback_language="da",
    )
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(campaign_variants).values(
                campaign_id=campaign_id,
                language="sv",
                subject="Nyheter",
                body="<p>Svensk text</p>" + layout_body,
            )
        )
    swedish = await client.get(f"/archive/campaigns/{campaign_id}/content?lang=sv")
    danish = await client.get(f"/archive/campaigns/{campaign_id}/content?lang=da")
    english = await client.get(f"/archive/campaigns/{campaign_id}/content?lang=en")
    assert "Svensk text" in swedish.text and "Dansk tekst" not in swedish.text
    assert "Dansk tekst" in danish.text and "Dansk tekst" in english.text
    for copy in (swedish, danish, english):
        # The layout's footer only: no second footer added below it.
        assert copy.text.count("/archive/about?") == 1, copy.text
    page = await client.get(f"/archive/campaigns/{campaign_id}?lang=sv")
    assert "<h1>Nyheter</h1>" in page.text


async def test_a_digest_campaign_in_the_archive_shows_its_general_block(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    campaign_id = await _campaign(
        engine, lists["kultur"], public=True, body="<h1>Ugens kultur</h1>{{ digest }}"
    )
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(digest_blocks),
            [
                {
                    "campaign_id": campaign_id,
                    "language": language,
                    "municipality": municipality,
                    "html": f"<p>{language}:{municipality or 'general'}</p>",
                    "text": "",
                }
                for language in ("da", "sv")
                for municipality in ("", "dk-koebenhavn")
            ],
        )
    for lang, shown in (("da", "<p>da:general</p>"), ("sv", "<p>sv:general</p>")):
        content = await client.get(f"/archive/campaigns/{campaign_id}/content?lang={lang}")
        assert content.status_code == 200
        assert shown in content.text and "dk-koebenhavn" not in content.text
    # No English block: the Danish one.
    content = await client.get(f"/archive/campaigns/{campaign_id}/content?lang=en")
    assert "<p>da:general</p>" in content.text
