"""Youth lists in the staff API and the staff app: the flag and the custom fields minors may
give, set by admins, read by the subscriptions service's sign-up."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import mailing_lists
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import post_form, sign_in_as

SCHOOL = {
    "key": "skole",
    "labels": {"da": "Skole", "sv": "Skola", "en": "School"},
    "type": "text",
    "public": True,
}
PHONE = {
    "key": "telefon",
    "labels": {"da": "Telefon", "sv": "Telefon", "en": "Phone"},
    "type": "text",
    "public": True,
}


async def _stored(db: AsyncEngine, slug: str) -> tuple[bool, object]:
    async with db.connect() as conn:
        row = (
            await conn.execute(
                sa.select(mailing_lists.c.youth, mailing_lists.c.youth_fields).where(
                    mailing_lists.c.slug == slug
                )
            )
        ).one()
    return bool(row.youth), row.youth_fields


async def test_an_admin_creates_and_changes_a_youth_list_over_the_api(
    api: Api, db: AsyncEngine
) -> None:
    assert (await api.post("/api/fields", role="admin", json=SCHOOL)).status_code == 201
    body = {
        "slug": "unge-scener",
        "names": {"da": "Unge scener", "sv": "Unga scener", "en": "Young stages"},
        "youth": True,
        "youth_fields": ["skole"],
    }

    created = await api.post("/api/lists", role="admin", json=body)

    assert created.status_code == 201, created.text
    assert created.json()["youth"] is True and created.json()["youth_fields"] == ["skole"]
    assert await _stored(db, "unge-scener") == (True, ["skole"])
    patched = await api.patch(
        "/api/lists/unge-scener", role="admin", json={"youth": False, "youth_fields": []}
    )
    assert patched.status_code == 200
    assert patched.json()["youth"] is False and patched.json()["youth_fields"] == []
    assert await _stored(db, "unge-scener") == (False, None)
    other = (await api.get("/api/lists/kultur")).json()
    assert other["youth"] is False and other["youth_fields"] == []


async def test_a_youth_list_may_only_allow_custom_fields_that_exist(api: Api) -> None:
    refused = await api.patch(
        "/api/lists/boern-unge", role="admin", json={"youth": True, "youth_fields": ["cpr"]}
    )

    assert refused.status_code == 422
    assert "youth_fields" in refused.json()["errors"]
    assert (await api.get("/api/lists/boern-unge")).json()["youth"] is False
    wrong_type = await api.patch("/api/lists/boern-unge", role="admin", json={"youth": "yes"})
    assert wrong_type.status_code == 422


async def test_an_admin_marks_a_youth_list_in_the_staff_app(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    for field in (SCHOOL, PHONE):
        assert (await api.post("/api/fields", role="admin", json=field)).status_code == 201
    await sign_in_as(api.client, settings, "admin")
    page = await api.client.get("/app/lists/boern-unge")
    assert 'name="youth"' in page.text and 'name="youth_field.skole"' in page.text
    form = {
        "name_da": "Børn og unge",
        "name_sv": "Barn och unga",
        "name_en": "Children and young people",
        "youth": "1",
        "youth_field.skole": "1",
    }

    saved = await post_form(api.client, "/app/lists/boern-unge", "/app/lists/boern-unge", **form)

    assert saved.status_code == 200, saved.text
    assert await _stored(db, "boern-unge") == (True, ["skole"])
    # The page shows what is stored: the flag and only the allowed field ticked.
    assert (
        'id="youth" name="youth" type="checkbox" value="1" aria-describedby="youth-hint" checked'
        in (saved.text)
    )
    assert 'name="youth_field.skole" type="checkbox" value="1" checked' in saved.text
    assert 'name="youth_field.telefon" type="checkbox" value="1">' in saved.text
    lists_page = await api.client.get("/app/lists", headers={"Accept-Language": "en"})
    assert "(boern-unge, youth list)" in lists_page.text


async def test_readers_see_that_a_list_is_a_youth_list(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    await api.patch("/api/lists/boern-unge", role="admin", json={"youth": True})
    await sign_in_as(api.client, settings, "viewer")

    page = await api.client.get("/app/lists/boern-unge", headers={"Accept-Language": "en"})

    assert page.status_code == 200
    assert "Youth list: under the age of digital consent (13)" in page.text
    assert 'name="youth"' not in page.text
