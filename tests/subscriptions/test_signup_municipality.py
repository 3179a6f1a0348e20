"""Sign-up forms that ask for the resident's municipality: the field on the widget, embed page
and sign-up page of a site that asks (and nowhere else), the value stored for a new subscriber
only, and unknown values refused with a reason."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.subscriptions.conftest import all_subscribers
from tests.subscriptions.member_sites import seed_member_site

SIGN_UP = {"email": "maja@example.org", "lists": ["kultur"], "language": "sv", "consent": True}


async def test_widget_form_offers_the_municipalities_only_when_the_site_asks(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", asks_municipality=True)
    await seed_member_site(engine, "lund-konsthall")

    asking = (await client.get("/api/sites/malmo-bibliotek/form?lang=da")).json()
    silent = (await client.get("/api/sites/lund-konsthall/form?lang=da")).json()

    assert silent["municipalities"] == []
    groups = asking["municipalities"]
    assert [group["label"] for group in groups] == ["Danmark", "Skåne", "Andre steder"]
    assert len(groups[0]["options"]) == 98 and len(groups[1]["options"]) == 33
    assert {"id": "dk-koebenhavn", "name": "København"} in groups[0]["options"]
    assert {"id": "se-malmo", "name": "Malmö"} in groups[1]["options"]
    assert groups[2]["options"] == [
        {"id": "dk-elsewhere", "name": "Andetsteds i Danmark"},
        {"id": "se-elsewhere", "name": "Andetsteds i Sverige"},
        {"id": "abroad", "name": "Udlandet"},
    ]
    assert asking["texts"]["municipality"] == "Kommune (valgfrit)"


async def test_embed_page_has_the_field_only_when_the_site_asks(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", asks_municipality=True)
    await seed_member_site(engine, "lund-konsthall")

    asking = (await client.get("/embed/malmo-bibliotek?lang=sv")).text
    silent = (await client.get("/embed/lund-konsthall?lang=sv")).text

    assert '<label for="municipality">Kommun (valfritt)</label>' in asking
    assert '<select id="municipality" name="municipality">' in asking
    assert '<optgroup label="Skåne">' in asking
    assert '<option value="se-elsewhere">Någon annanstans i Sverige</option>' in asking
    assert 'name="municipality"' not in silent


async def test_json_sign_up_stores_the_municipality_of_a_new_subscriber(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", asks_municipality=True)

    first = await client.post(
        "/subscribe", json={**SIGN_UP, "site": "malmo-bibliotek", "municipality": "se-lund"}
    )
    second = await client.post(
        "/subscribe",
        json={**SIGN_UP, "email": "ola@example.org", "municipality": "abroad"},
    )
    third = await client.post("/subscribe", json={**SIGN_UP, "email": "per@example.org"})

    assert [r.status_code for r in (first, second, third)] == [202, 202, 202]
    stored = {row["email"]: row["municipality"] for row in await all_subscribers(engine)}
    assert stored == {
        "maja@example.org": "se-lund",
        "ola@example.org": "abroad",
        "per@example.org": None,
    }


async def test_form_sign_ups_store_the_municipality_and_an_empty_choice_stores_none(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", asks_municipality=True)
    form = {"lists": "kultur", "language": "da", "consent": "on", "site": "malmo-bibliotek"}

    plain = await client.post(
        "/subscribe", data={**form, "email": "a@example.org", "municipality": "dk-elsewhere"}
    )
    embedded = await client.post(
        "/embed/malmo-bibliotek?lang=da",
        data={**form, "email": "b@example.org", "municipality": "dk-helsingoer"},
    )
    none_chosen = await client.post(
        "/embed/malmo-bibliotek?lang=da",
        data={**form, "email": "c@example.org", "municipality": ""},
    )

    assert [r.status_code for r in (plain, embedded, none_chosen)] == [303, 303, 303]
    stored = {row["email"]: row["municipality"] for row in await all_subscribers(engine)}
    assert stored == {
        "a@example.org": "dk-elsewhere",
        "b@example.org": "dk-helsingoer",
        "c@example.org": None,
    }


async def test_an_unknown_municipality_is_refused_with_a_reason(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", asks_municipality=True)
    form = {"lists": "kultur", "consent": "on", "site": "malmo-bibliotek"}

    as_json = await client.post("/subscribe", json={**SIGN_UP, "municipality": "se-stockholm"})
    by_name = await client.post("/subscribe", json={**SIGN_UP, "municipality": "Malmö"})
    not_text = await client.post("/subscribe", json={**SIGN_UP, "municipality": 7})
    plain = await client.post(
        "/subscribe",
        data={**form, "email": "a@example.org", "language": "da", "municipality": "x" * 5000},
    )
    embedded = await client.post(
        "/embed/malmo-bibliotek?lang=en",
        data={**form, "email": "b@example.org", "municipality": "nowhere"},
    )

    assert as_json.status_code == 422
    assert as_json.json()["errors"] == {"municipality": "Välj en kommun i listan."}
    assert by_name.status_code == 422
    assert not_text.status_code == 422 and "municipality" in not_text.json()["errors"]
    assert plain.status_code == 422
    assert '<a href="#municipality">Vælg en kommune på listen.</a>' in plain.text
    assert 'id="municipality" name="municipality" aria-invalid="true"' in plain.text
    assert embedded.status_code == 422
    assert '<a href="#municipality">Choose a municipality from the list.</a>' in embedded.text
    assert re.search(r'<option value="se-malmo">Malmö</option>', embedded.text)
    assert await all_subscribers(engine) == []


async def test_a_sign_up_does_not_overwrite_an_existing_residents_municipality(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", asks_municipality=True)
    await client.post("/subscribe", json={**SIGN_UP, "municipality": "se-ystad"})
    await client.post("/subscribe", json={**SIGN_UP, "lists": ["musik"]})

    again = await client.post(
        "/subscribe",
        json={**SIGN_UP, "lists": ["born"], "site": "malmo-bibliotek", "municipality": "abroad"},
    )

    assert again.status_code == 202
    [subscriber] = await all_subscribers(engine)
    assert subscriber["municipality"] == "se-ystad"
