"""The form's language: the resident's explicit choice, else Accept-Language (or the browser
languages the widget passes), else the site's default."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.subscriptions.conftest import all_subscribers
from tests.subscriptions.member_sites import seed_member_site

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database


async def form_language(client: httpx.AsyncClient, url: str, accept: str | None = None) -> str:
    headers = {"Accept-Language": accept} if accept else {}
    response = await client.get(url, headers=headers)
    assert response.status_code == 200
    language: str = response.json()["language"]
    return language


async def test_site_form_language_choice_then_browser_then_site_default(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", language="sv")
    url = "/api/sites/malmo-bibliotek/form"

    assert await form_language(client, url) == "sv"
    assert await form_language(client, url, "da-DK,da;q=0.9,en;q=0.5") == "da"
    assert await form_language(client, url, "de-DE,fr;q=0.8") == "sv"
    assert await form_language(client, url, "nb-NO") == "da"  # Norwegian readers get Danish
    assert await form_language(client, f"{url}?lang=en", "da-DK") == "en"
    # widget.js passes navigator.languages when the page sets no data-lang.
    assert await form_language(client, f"{url}?languages=en-GB,da", "sv-SE") == "en"
    assert await form_language(client, f"{url}?languages=de-DE", "da") == "sv"


async def test_embed_page_follows_accept_language_unless_the_url_names_one(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", language="sv")

    browser = await client.get("/embed/malmo-bibliotek", headers={"Accept-Language": "en-US"})
    other = await client.get("/embed/malmo-bibliotek", headers={"Accept-Language": "de"})
    chosen = await client.get("/embed/malmo-bibliotek?lang=da", headers={"Accept-Language": "en"})

    assert '<html lang="en">' in browser.text
    assert '<label for="email">Email address</label>' in browser.text
    assert "Accept-Language" in browser.headers["vary"]
    assert '<html lang="sv">' in other.text
    assert '<html lang="da">' in chosen.text


async def test_embed_sign_up_without_a_language_takes_the_browsers(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", language="sv")
    form = {"email": "maja@example.org", "lists": "kultur", "consent": "on"}

    response = await client.post(
        "/embed/malmo-bibliotek", data=form, headers={"Accept-Language": "da-DK"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/embed/malmo-bibliotek/thanks?lang=da"
    [subscriber] = await all_subscribers(engine)
    assert subscriber["language"] == "da"


async def test_json_site_sign_up_without_a_language_takes_the_browsers(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", language="sv")
    body = {"email": "maja@example.org", "lists": ["kultur"], "consent": True}

    english = await client.post(
        "/subscribe",
        json={**body, "site": "malmo-bibliotek"},
        headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    chosen = await client.post(
        "/subscribe",
        json={**body, "email": "ola@example.org", "site": "malmo-bibliotek", "language": "da"},
        headers={"Accept-Language": "en-GB"},
    )

    assert english.status_code == 202 and chosen.status_code == 202
    languages = {row["email"]: row["language"] for row in await all_subscribers(engine)}
    assert languages == {"maja@example.org": "en", "ola@example.org": "da"}
