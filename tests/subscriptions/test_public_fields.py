"""Staff-defined custom fields on the public forms: only fields marked public are shown and
accepted, values are checked and stored on the new subscriber, refusals name the field."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import custom_fields
from tests.subscriptions.conftest import all_subscribers, queued_mails, subscribe_json
from tests.subscriptions.member_sites import seed_member_site
from tests.subscriptions.residents import EXPORT_LINK, sign_up

SITE_ORIGIN = "https://malmo.example"


async def seed_field(
    engine: AsyncEngine,
    key: str,
    kind: str = "text",
    *,
    public: bool = True,
    required: bool = False,
    choices: Sequence[str] = (),
    labels: tuple[str, str, str] | None = None,
) -> None:
    """Insert a custom field definition (a campaigns-owned table; tests may seed it)."""
    da, sv, en = labels or (f"{key} (da)", f"{key} (sv)", f"{key} (en)")
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(custom_fields).values(
                key=key,
                label_da=da,
                label_sv=sv,
                label_en=en,
                type=kind,
                choices=list(choices),
                required=required,
                public=public,
                max_length=None,
                created_at=now,
                updated_at=now,
            )
        )


@pytest.fixture
async def fields(engine: AsyncEngine) -> None:
    """A required public choice, an optional public number and date, and a staff-only note."""
    await seed_field(
        engine,
        "neighbourhood",
        "choice",
        required=True,
        choices=["Nørrebro", "Möllevången"],
        labels=("Bydel", "Stadsdel", "Neighbourhood"),
    )
    await seed_field(engine, "birth_year", "number", labels=("Fødselsår", "Födelseår", "Born"))
    await seed_field(engine, "member", "boolean", labels=("Medlem", "Medlem", "Member"))
    await seed_field(engine, "staff_note", public=False)


async def test_json_sign_up_stores_public_field_values(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], fields: None
) -> None:
    response = await subscribe_json(
        client, custom={"neighbourhood": "Nørrebro", "birth_year": "1987", "member": True}
    )

    assert response.status_code == 202, response.text
    [subscriber] = await all_subscribers(engine)
    assert subscriber["custom_values"] == {
        "neighbourhood": "Nørrebro",
        "birth_year": 1987,
        "member": True,
    }


async def test_required_field_missing_and_bad_values_are_named_per_field(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], fields: None
) -> None:
    missing = await subscribe_json(client, language="en")
    wrong = await subscribe_json(
        client, language="en", custom={"neighbourhood": "Vesterbro", "birth_year": "many"}
    )

    assert missing.status_code == 422
    assert missing.json()["errors"] == {"custom.neighbourhood": "This field is required."}
    assert wrong.status_code == 422
    assert set(wrong.json()["errors"]) == {"custom.neighbourhood", "custom.birth_year"}
    assert await all_subscribers(engine) == []


async def test_staff_only_and_unknown_fields_are_refused(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], fields: None
) -> None:
    staff_only = await subscribe_json(
        client, custom={"neighbourhood": "Nørrebro", "staff_note": "VIP"}
    )
    unknown = await subscribe_json(client, custom={"neighbourhood": "Nørrebro", "shoe": "42"})
    not_an_object = await subscribe_json(client, custom=["Nørrebro"])

    assert staff_only.status_code == 422
    assert list(staff_only.json()["errors"]) == ["custom.staff_note"]
    assert unknown.status_code == 422
    assert list(unknown.json()["errors"]) == ["custom.shoe"]
    assert not_an_object.status_code == 422
    assert list(not_an_object.json()["errors"]) == ["custom"]
    assert await all_subscribers(engine) == []


async def test_a_repeated_sign_up_does_not_overwrite_stored_values(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], fields: None
) -> None:
    await subscribe_json(client, custom={"neighbourhood": "Nørrebro"})

    again = await subscribe_json(client, custom={"neighbourhood": "Möllevången"})

    assert again.status_code == 202
    [subscriber] = await all_subscribers(engine)
    assert subscriber["custom_values"] == {"neighbourhood": "Nørrebro"}


async def test_plain_form_shows_public_fields_and_links_their_errors(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], fields: None
) -> None:
    page = (await client.get("/subscribe?lang=sv")).text
    form = {"email": "maja@example.org", "lists": "kultur", "language": "sv", "consent": "on"}

    refused = await client.post("/subscribe?lang=sv", data={**form, "custom.birth_year": "nitton"})
    accepted = await client.post(
        "/subscribe",
        data={**form, "custom.neighbourhood": "Möllevången", "custom.member": "true"},
    )

    assert '<label for="custom.neighbourhood">Stadsdel</label>' in page
    assert '<select id="custom.neighbourhood" name="custom.neighbourhood" required>' in page
    assert '<label for="custom.birth_year">Födelseår</label>' in page
    assert 'inputmode="decimal"' in page
    assert 'type="checkbox" id="custom.member" name="custom.member" value="true"' in page
    assert "staff_note" not in page
    assert refused.status_code == 422
    assert '<li><a href="#custom.neighbourhood">' in refused.text
    assert '<li><a href="#custom.birth_year">' in refused.text
    assert 'value="nitton" aria-invalid="true" aria-describedby="custom.birth_year-error"' in (
        refused.text
    )
    assert accepted.status_code == 303
    [subscriber] = await all_subscribers(engine)
    assert subscriber["custom_values"] == {"neighbourhood": "Möllevången", "member": True}


async def test_site_form_lists_public_fields_in_the_forms_language(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], fields: None
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=[SITE_ORIGIN], language="sv")

    form = (await client.get("/api/sites/malmo-bibliotek/form")).json()
    danish = (await client.get("/api/sites/malmo-bibliotek/form?lang=da")).json()

    assert form["fields"] == [
        {
            "key": "neighbourhood",
            "name": "custom.neighbourhood",
            "label": "Stadsdel",
            "type": "choice",
            "required": True,
            "choices": ["Nørrebro", "Möllevången"],
            "max_length": None,
        },
        {
            "key": "birth_year",
            "name": "custom.birth_year",
            "label": "Födelseår",
            "type": "number",
            "required": False,
            "choices": [],
            "max_length": None,
        },
        {
            "key": "member",
            "name": "custom.member",
            "label": "Medlem",
            "type": "boolean",
            "required": False,
            "choices": [],
            "max_length": None,
        },
    ]
    assert [field["label"] for field in danish["fields"]] == ["Bydel", "Fødselsår", "Medlem"]


async def test_embed_page_shows_public_fields_and_stores_them(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], fields: None
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=[SITE_ORIGIN])
    form = {"email": "maja@example.org", "lists": "kultur", "consent": "on"}

    page = (await client.get("/embed/malmo-bibliotek?lang=en")).text
    refused = await client.post("/embed/malmo-bibliotek?lang=en", data=form)
    accepted = await client.post(
        "/embed/malmo-bibliotek?lang=en", data={**form, "custom.neighbourhood": "Nørrebro"}
    )

    assert '<label for="custom.neighbourhood">Neighbourhood</label>' in page
    assert "staff_note" not in page
    assert refused.status_code == 422
    assert f"frame-ancestors {SITE_ORIGIN};" in refused.headers["content-security-policy"]
    assert '<li><a href="#custom.neighbourhood">This field is required.</a></li>' in refused.text
    assert re.search(r'id="custom\.neighbourhood"[^>]*aria-invalid="true"', refused.text)
    assert accepted.status_code == 303
    [subscriber] = await all_subscribers(engine)
    assert subscriber["custom_values"] == {"neighbourhood": "Nørrebro"}


async def test_the_export_includes_the_values(
    client: httpx.AsyncClient, redis: Redis, lists: dict[str, int], fields: None
) -> None:
    resident = await sign_up(client, redis, custom={"neighbourhood": "Nørrebro"})

    asked = await client.post(f"/preferences/{resident.preferences}/export")
    [mail] = await queued_mails(redis)
    link = EXPORT_LINK.search(mail.text)
    assert asked.status_code == 200 and link
    download = await client.post(f"/export/{link.group(1)}")

    assert download.status_code == 200
    assert download.json()["subscriber"]["custom_fields"] == {"neighbourhood": "Nørrebro"}
