"""Member sites' forms over HTTP: widget.js, the site form description, site crediting, the
thank-you redirect and site defaults, and the embeddable page."""

from __future__ import annotations

import gzip
import re

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.widget import STATIC_DIR
from tests.subscriptions.conftest import all_subscribers, all_subscriptions, seed_list
from tests.subscriptions.member_sites import seed_member_site

SITE_ORIGIN = "https://malmo.example"


# --- widget.js -----------------------------------------------------------------------------


async def test_widget_script_is_small_cacheable_javascript(client: httpx.AsyncClient) -> None:
    response = await client.get("/widget.js", headers={"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["content-encoding"] == "gzip"
    assert response.num_bytes_downloaded < 10 * 1024
    assert "public" in response.headers["cache-control"]
    assert "max-age=" in response.headers["cache-control"]
    assert "Accept-Encoding" in response.headers["vary"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (STATIC_DIR / "widget.js").read_bytes()
    assert len(gzip.compress(response.content)) < 10 * 1024


async def test_widget_script_revalidates_with_its_etag(client: httpx.AsyncClient) -> None:
    first = await client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    etag = first.headers["etag"]

    again = await client.get("/widget.js", headers={"If-None-Match": etag})
    weak = await client.get("/widget.js", headers={"If-None-Match": f'"other", W/{etag}'})
    changed = await client.get("/widget.js", headers={"If-None-Match": '"other"'})

    assert "content-encoding" not in first.headers
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert weak.status_code == 304
    assert changed.status_code == 200


async def test_widget_script_has_no_words_of_its_own(client: httpx.AsyncClient) -> None:
    script = (await client.get("/widget.js")).text

    for word in ("Email", "E-mail", "Tilmeld", "Prenumerera", "Newsletter", "Nyhedsbrev"):
        assert word not in script
    assert "attachShadow" in script
    assert "crypto.subtle.digest" in script
    assert 'name: "website"' in script


# --- the site form description ---------------------------------------------------------------


async def test_site_form_in_the_sites_language_with_its_default_lists(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(
        engine, "malmo-bibliotek", default_lists=["musik", "intern", "kultur"], language="sv"
    )

    response = await client.get("/api/sites/malmo-bibliotek/form")

    assert response.status_code == 200
    form = response.json()
    assert form["site"] == "malmo-bibliotek"
    assert form["language"] == "sv"
    # The private list is left out; the site's order is kept.
    assert [item["slug"] for item in form["lists"]] == ["musik", "kultur"]
    assert form["lists"][0]["name"] == "Musik och konserter"
    assert not any(item["checked"] for item in form["lists"])
    assert form["texts"]["email"] == "E-postadress"
    assert form["texts"]["submit"]
    assert form["consent"]["version"]
    assert form["consent"]["text"].startswith("Ja")
    assert form["proof_of_work"] is False
    assert form["subscribe_url"] == "http://subscriptions.test/subscribe"
    assert (
        form["challenge_url"] == "http://subscriptions.test/altcha/challenge?site=malmo-bibliotek"
    )
    assert set(form["languages"]) == {"da", "sv", "en"}


async def test_site_form_language_and_lists_can_be_chosen_by_the_page(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", proof_of_work=True)

    english = (await client.get("/api/sites/malmo-bibliotek/form?lang=en")).json()
    one = (await client.get("/api/sites/malmo-bibliotek/form?lang=da&lists=born")).json()

    assert english["language"] == "en"
    assert english["texts"]["email"] == "Email address"
    # No default lists: every public list, in slug order.
    assert [item["slug"] for item in english["lists"]] == ["born", "kultur", "musik"]
    assert english["proof_of_work"] is True
    assert one["texts"]["email"] == "E-mailadresse"
    assert one["lists"] == [
        {"slug": "born", "name": "Børn og unge", "description": "", "checked": True}
    ]


async def test_site_form_of_an_unknown_site_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/sites/no-such-site/form", headers={"Accept": "application/json"}
    )
    too_long = await client.get("/api/sites/" + "x" * 100 + "/form")

    assert response.status_code == 404
    assert response.json() == {"error": 404}
    assert too_long.status_code == 404


# --- sign-ups credited to a site -------------------------------------------------------------


async def test_json_sign_up_is_credited_to_the_site_in_its_default_language(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    site_id = await seed_member_site(engine, "malmo-bibliotek", language="sv")

    response = await client.post(
        "/subscribe",
        json={
            "email": "maja@example.org",
            "lists": ["kultur", "musik"],
            "consent": True,
            "site": "malmo-bibliotek",
        },
    )

    assert response.status_code == 202
    assert "inkorg" in response.json()["message"]
    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id
    assert subscriber["language"] == "sv"
    rows = await all_subscriptions(engine)
    assert {row["source_site_id"] for row in rows.values()} == {site_id}


async def test_a_site_does_not_take_over_an_existing_subscriber(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    site_id = await seed_member_site(engine, "malmo-bibliotek")
    await client.post(
        "/subscribe",
        json={"email": "maja@example.org", "lists": ["kultur"], "language": "da", "consent": True},
    )

    await client.post(
        "/subscribe",
        json={
            "email": "maja@example.org",
            "lists": ["musik"],
            "language": "da",
            "consent": True,
            "site": "malmo-bibliotek",
        },
    )

    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] is None
    rows = await all_subscriptions(engine)
    assert rows[lists["kultur"]]["source_site_id"] is None
    assert rows[lists["musik"]]["source_site_id"] == site_id


async def test_form_sign_up_lands_on_the_sites_thank_you_page(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(
        engine, "malmo-bibliotek", thank_you_url="https://malmo.example/tack?from=nyhetsbrev"
    )
    await seed_member_site(engine, "lund-konsthall", language="en")
    form = {"email": "maja@example.org", "lists": "kultur", "consent": "true"}

    with_page = await client.post("/subscribe", data={**form, "site": "malmo-bibliotek"})
    without_page = await client.post(
        "/subscribe", data={**form, "email": "b@example.org", "site": "lund-konsthall"}
    )

    assert with_page.status_code == 303
    assert with_page.headers["location"] == "https://malmo.example/tack?from=nyhetsbrev"
    assert without_page.status_code == 303
    assert without_page.headers["location"] == "/thanks?lang=en"


async def test_unknown_site_on_the_plain_form_is_a_readable_422(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    form = {"email": "maja@example.org", "lists": "kultur", "language": "da", "consent": "on"}

    response = await client.post("/subscribe", data={**form, "site": "no-such-site"})

    assert response.status_code == 422
    assert "websted, vi ikke kender" in response.text
    assert await all_subscribers(engine) == []


# --- the embed page --------------------------------------------------------------------------


async def test_embed_page_is_an_accessible_form_framable_by_the_site_only(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(
        engine,
        "malmo-bibliotek",
        origins=[SITE_ORIGIN, "https://www.malmo.example"],
        default_lists=["kultur"],
        thank_you_url="https://malmo.example/tack",
    )

    response = await client.get("/embed/malmo-bibliotek")

    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors https://malmo.example https://www.malmo.example;" in csp
    assert "form-action 'self' https://malmo.example;" in csp
    assert "x-frame-options" not in response.headers
    page = response.text
    assert '<html lang="sv">' in page
    assert '<form id="signup" method="post" action="/embed/malmo-bibliotek?lang=sv"' in page
    assert '<input type="hidden" name="site" value="malmo-bibliotek">' in page
    assert '<label for="email">E-postadress</label>' in page
    assert "<legend>Nyhetsbrev</legend>" in page
    assert re.search(r'value="kultur" id="lists" checked', page)
    assert 'value="musik"' not in page
    assert 'name="website"' in page and 'tabindex="-1"' in page
    assert 'aria-live="polite"' in page
    assert "<script" not in page  # no proof of work: no script at all


async def test_embed_page_language_and_unknown_site(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek")

    danish = await client.get("/embed/malmo-bibliotek?lang=da")
    unknown = await client.get("/embed/no-such-site?lang=en")

    assert '<html lang="da">' in danish.text
    assert "frame-ancestors 'none'" in danish.headers["content-security-policy"]
    assert unknown.status_code == 404
    assert "text/html" in unknown.headers["content-type"]
    assert "Page not found" in unknown.text


async def test_embed_sign_up_lands_on_a_framable_thank_you_page(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    site_id = await seed_member_site(engine, "malmo-bibliotek", origins=[SITE_ORIGIN])
    form = {"email": "maja@example.org", "lists": "kultur", "consent": "on", "website": ""}

    response = await client.post("/embed/malmo-bibliotek?lang=sv", data=form)

    assert response.status_code == 303
    assert response.headers["location"] == "/embed/malmo-bibliotek/thanks?lang=sv"
    thanks = await client.get(response.headers["location"])
    assert thanks.status_code == 200
    assert "Titta i din inkorg" in thanks.text
    assert f"frame-ancestors {SITE_ORIGIN};" in thanks.headers["content-security-policy"]
    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id
    assert subscriber["language"] == "sv"


async def test_embed_sign_up_errors_stay_framable_and_link_to_fields(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=[SITE_ORIGIN])
    form = {"email": "not an address", "lists": "kultur", "name": "Maja"}

    response = await client.post("/embed/malmo-bibliotek?lang=en", data=form)

    assert response.status_code == 422
    assert f"frame-ancestors {SITE_ORIGIN};" in response.headers["content-security-policy"]
    page = response.text
    assert '<a href="#email">' in page and '<a href="#consent">' in page
    assert 'aria-invalid="true" aria-describedby="email-error"' in page
    assert 'id="consent" required aria-invalid="true"' in page
    assert 'value="Maja"' in page
    assert re.search(r'value="kultur" id="[^"]+" checked', page)
    assert await all_subscribers(engine) == []


async def test_embed_sign_up_goes_to_the_sites_thank_you_page(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", thank_you_url="https://malmo.example/tack")
    await seed_list(engine, "teater", "Teater", "Teater")
    form = {"email": "maja@example.org", "lists": ["kultur", "teater"], "consent": "on"}

    response = await client.post("/embed/malmo-bibliotek", data=form)

    assert response.status_code == 303
    assert response.headers["location"] == "https://malmo.example/tack"
    assert len(await all_subscriptions(engine)) == 2


async def test_embed_sign_up_with_the_honeypot_filled_stores_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek")
    form = {"email": "bot@example.org", "lists": "kultur", "consent": "on", "website": "x"}

    response = await client.post("/embed/malmo-bibliotek", data=form)

    assert response.status_code == 303  # the same answer a person gets
    assert await all_subscribers(engine) == []
