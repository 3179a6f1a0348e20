"""The consent record names the consent text version the form actually showed."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.consent import CONSENT_TEXT_VERSION, SNIPPET_CONSENT_TEXT_VERSION
from tests.subscriptions.conftest import subscribe_json
from tests.subscriptions.member_sites import seed_member_site
from tests.subscriptions.residents import consent_rows


async def requested_versions(engine: AsyncEngine) -> list[str]:
    return [
        row["consent_text_version"]
        for row in await consent_rows(engine)
        if row["event"] == "requested"
    ]


async def test_a_known_version_sent_by_the_form_is_recorded(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    form = {"email": "maja@example.org", "lists": "kultur", "language": "da", "consent": "on"}

    response = await client.post(
        "/subscribe", data={**form, "consent_version": SNIPPET_CONSENT_TEXT_VERSION}
    )

    assert response.status_code == 303
    assert await requested_versions(engine) == [SNIPPET_CONSENT_TEXT_VERSION]


async def test_an_unknown_or_missing_version_is_recorded_as_the_current_one(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await subscribe_json(client, consent_version="1999-made-up")
    await subscribe_json(client, email="ola@example.org")

    assert await requested_versions(engine) == [CONSENT_TEXT_VERSION, CONSENT_TEXT_VERSION]


async def test_every_form_sends_the_version_it_shows(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek")
    hidden = f'<input type="hidden" name="consent_version" value="{CONSENT_TEXT_VERSION}">'

    plain = (await client.get("/subscribe")).text
    embed = (await client.get("/embed/malmo-bibliotek")).text
    widget = (await client.get("/api/sites/malmo-bibliotek/form")).json()

    assert hidden in plain
    assert hidden in embed
    assert widget["consent"]["version"] == CONSENT_TEXT_VERSION
    assert "consent_version: cfg.consent.version" in (await client.get("/widget.js")).text


async def test_the_widgets_json_sign_up_records_its_version(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await subscribe_json(client, consent_version=CONSENT_TEXT_VERSION)

    assert await requested_versions(engine) == [CONSENT_TEXT_VERSION]
