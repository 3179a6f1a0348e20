"""The member site, custom field and audit log pages over real HTTP, on both databases:
what admins change, what the others may only read, and refusals of forged posts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import staff_audit
from shared.db import create_sessionmaker
from shared.schema import staff_audit as audit_table
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import csrf_token, post_form, sign_in_as

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database

SITE_FORM = {
    "key": "lund-kultur",
    "name": "Lunds kulturhus",
    "country": "SE",
    "municipality": "se-lund",
    "allowed_origins": "https://kultur.lund.se\n\nhttp://localhost:8080\n",
    "default_lists": ["kultur", "idraet"],
    "default_language": "sv",
    "thank_you_url": "https://kultur.lund.se/tack",
    "require_proof_of_work": "on",
}
FIELD_FORM = {
    "key": "district",
    "type": "choice",
    "label_da": "Bydel",
    "label_sv": "Stadsdel",
    "label_en": "District",
    "choices": "Nord\nSyd\n",
    "public": "on",
}


async def test_admin_creates_edits_and_deletes_a_site(api: Api, settings: Settings) -> None:
    client = api.client
    await sign_in_as(client, settings, "admin")
    created = await post_form(client, "/app/sites", "/app/sites", **SITE_FORM)
    assert created.status_code == 200, created.text
    assert "<h1>Lunds kulturhus</h1>" in created.text
    assert 'role="status"' in created.text
    site = (await api.get("/api/sites/lund-kultur")).json()
    assert site["allowed_origins"] == ["https://kultur.lund.se", "http://localhost:8080"]
    assert site["default_lists"] == ["kultur", "idraet"] and site["require_proof_of_work"]
    # The snippets, each in a read-only textarea with its copy button.
    snippets = (await api.get("/api/sites/lund-kultur/snippets")).json()
    page = await client.get("/app/sites/lund-kultur")
    assert page.text.count("readonly") == 3 and page.text.count("data-copy=") == 3
    assert "widget.js" in page.text and "/embed/lund-kultur" in page.text
    assert str(escape(snippets["script"])) in page.text
    assert '<figure class="chart">' in page.text

    edited = await post_form(
        client,
        "/app/sites/lund-kultur",
        "/app/sites/lund-kultur",
        **{**SITE_FORM, "name": "Kulturhuset Lund", "default_lists": [], "allowed_origins": ""},
    )
    assert edited.status_code == 200, edited.text
    site = (await api.get("/api/sites/lund-kultur")).json()
    assert site["name"] == "Kulturhuset Lund" and site["allowed_origins"] == []
    assert site["default_lists"] == [] and site["key"] == "lund-kultur"

    confirm = await client.get("/app/sites/lund-kultur/delete")
    assert confirm.status_code == 200 and "Kulturhuset Lund" in confirm.text
    deleted = await client.post(
        "/app/sites/lund-kultur/delete", data={"_csrf_token": csrf_token(confirm)}
    )
    assert deleted.status_code == 200
    assert (await api.get("/api/sites/lund-kultur")).status_code == 404
    assert (await client.get("/app/sites/lund-kultur")).status_code == 404

    log = await client.get("/app/audit", params={"object": "site:lund-kultur"})
    assert log.text.count("<td>admin@example.dk</td>") == 3
    trail = (await api.get("/api/audit?object=site:lund-kultur", role="admin")).json()
    assert [entry["action"] for entry in trail["entries"]] == [
        "site.delete",
        "site.update",
        "site.create",
    ]
    assert all(entry["actor"].startswith("user:") for entry in trail["entries"])


async def test_bad_origins_are_named_by_line(api: Api, settings: Settings) -> None:
    client = api.client
    await sign_in_as(client, settings, "admin")
    client.headers["Accept-Language"] = "en"
    origins = "https://ok.example.dk\n\nftp://files.example.dk\nhttps://example.dk/path\n"
    refused = await post_form(
        client, "/app/sites", "/app/sites", **{**SITE_FORM, "allowed_origins": origins}
    )
    assert refused.status_code == 422
    errors = re.findall(r"<li>(Line[^<]*)</li>", refused.text.replace("&#34;", '"'))
    assert errors == [
        "Line 3: must start with https:// or http://",
        "Line 4: must be an origin only (scheme://host[:port]), without a path",
    ]
    assert 'aria-invalid="true"' in refused.text and 'role="alert"' in refused.text
    # What was typed is shown again.
    assert "ftp://files.example.dk" in refused.text
    assert (await api.get("/api/sites/lund-kultur")).status_code == 404

    # The same in Danish.
    danish = await post_form(
        client,
        "/app/sites",
        "/app/sites",
        **{**SITE_FORM, "allowed_origins": "*.example.dk"},
    )
    page = await client.post(
        "/app/sites",
        data={**SITE_FORM, "allowed_origins": "*", "_csrf_token": csrf_token(danish)},
        headers={"Accept-Language": "da"},
    )
    assert page.status_code == 422
    assert "Linje 1:" in page.text


async def test_site_key_taken_and_bad_input_never_a_server_error(
    api: Api, settings: Settings
) -> None:
    client = api.client
    await sign_in_as(client, settings, "admin")
    taken = await post_form(client, "/app/sites", "/app/sites", **{**SITE_FORM, "key": "demo-site"})
    assert taken.status_code == 422
    for junk in (
        {"key": "x" * 5000, "name": "\x00", "country": "NO", "municipality": "Atlantis"},
        {"default_lists": ["nope"], "default_language": "de", "thank_you_url": "javascript:x"},
        {"name": "", "country": "", "default_language": ""},
    ):
        response = await post_form(client, "/app/sites", "/app/sites", **{**SITE_FORM, **junk})
        assert response.status_code == 422, (junk, response.text[:300])
    assert (await client.get("/app/sites/" + "x" * 300)).status_code == 404


async def test_fields_crud_for_admins(api: Api, settings: Settings) -> None:
    client = api.client
    await sign_in_as(client, settings, "admin")
    created = await post_form(client, "/app/fields", "/app/fields", **FIELD_FORM)
    assert created.status_code == 200, created.text
    assert "Stadsdel" not in created.text or "District" in created.text
    field = (await api.get("/api/fields/district")).json()
    assert field["choices"] == ["Nord", "Syd"] and field["public"] and not field["required"]
    assert field["labels"] == {"da": "Bydel", "sv": "Stadsdel", "en": "District"}

    bad = await post_form(
        client, "/app/fields", "/app/fields", **{**FIELD_FORM, "key": "Bad Key", "label_da": ""}
    )
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text

    edited = await post_form(
        client,
        "/app/fields/district",
        "/app/fields/district",
        **{**FIELD_FORM, "label_en": "Area", "choices": "Nord\nSyd\nVest", "required": "on"},
    )
    assert edited.status_code == 200, edited.text
    field = (await api.get("/api/fields/district")).json()
    assert field["labels"]["en"] == "Area" and field["choices"] == ["Nord", "Syd", "Vest"]
    assert field["required"] and field["type"] == "choice"

    confirm = await client.get("/app/fields/district/delete")
    deleted = await client.post(
        "/app/fields/district/delete", data={"_csrf_token": csrf_token(confirm)}
    )
    assert deleted.status_code == 200
    assert (await api.get("/api/fields/district")).status_code == 404
    trail = (await api.get("/api/audit?object=field:district", role="admin")).json()
    assert [entry["action"] for entry in trail["entries"]] == [
        "field.delete",
        "field.update",
        "field.create",
    ]


@pytest.mark.parametrize("role", ["viewer", "editor"])
async def test_readers_see_but_cannot_change(api: Api, settings: Settings, role: str) -> None:
    client = api.client
    await sign_in_as(client, settings, role)
    await api.post(
        "/api/fields",
        role="admin",
        json={
            "key": "age",
            "labels": {"da": "Alder", "sv": "Ålder", "en": "Age"},
            "type": "number",
        },
    )
    for path in ("/app/", "/app/sites", "/app/sites/demo-site", "/app/fields", "/app/fields/age"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert 'action="/app/sites"' not in page.text and 'action="/app/fields' not in page.text
    assert (await client.get("/app/audit")).status_code == 403
    assert (await client.get("/app/sites/demo-site/delete")).status_code == 403
    # Forged posts with the user's own valid CSRF token: refused, nothing changes.
    token = csrf_token(await client.get("/app/sites"))
    for path, data in (
        ("/app/sites", SITE_FORM),
        ("/app/sites/demo-site", {**SITE_FORM, "name": "Taken over"}),
        ("/app/sites/demo-site/delete", {}),
        ("/app/fields", FIELD_FORM),
        ("/app/fields/age", {**FIELD_FORM, "label_en": "Taken over"}),
        ("/app/fields/age/delete", {}),
    ):
        response = await client.post(path, data={**data, "_csrf_token": token})
        assert response.status_code == 403, path
    assert (await api.get("/api/sites/demo-site")).json()["name"] != "Taken over"
    assert (await api.get("/api/fields/age")).status_code == 200
    assert (await api.get("/api/sites/lund-kultur")).status_code == 404


async def test_posts_without_a_csrf_token_are_refused(api: Api, settings: Settings) -> None:
    client = api.client
    await sign_in_as(client, settings, "admin")
    for path, data in (
        ("/app/sites", SITE_FORM),
        ("/app/sites/demo-site/delete", {}),
        ("/app/fields", FIELD_FORM),
    ):
        assert (await client.post(path, data=data)).status_code == 403, path
    assert (await api.get("/api/sites/lund-kultur")).status_code == 404
    assert (await api.get("/api/sites/demo-site")).status_code == 200


async def test_pages_need_a_session(api: Api) -> None:
    for path in ("/app/", "/app/sites", "/app/sites/demo-site", "/app/fields", "/app/audit"):
        response = await api.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/app/login"


async def _audit_rows(db: AsyncEngine, count: int, start: datetime) -> None:
    async with create_sessionmaker(db)() as session:
        for n in range(count):
            await staff_audit.record(
                session, f"token:{n % 2 + 1}", "list.update", f"list:l{n}", {"fields": ["names"]}
            )
        await session.commit()
    async with db.begin() as conn:
        # Spread them one hour apart, the first at ``start``.
        ids = (await conn.execute(sa.select(audit_table.c.id).order_by(audit_table.c.id))).scalars()
        for offset, entry_id in enumerate(list(ids)):
            await conn.execute(
                sa.update(audit_table)
                .where(audit_table.c.id == entry_id)
                .values(at=start + timedelta(hours=offset))
            )


async def test_audit_log_filters_pages_and_local_times(
    api: Api, settings: Settings, db: AsyncEngine
) -> None:
    start = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    await _audit_rows(db, 120, start)
    client = api.client
    await sign_in_as(client, settings, "admin")
    first = await client.get("/app/audit")
    assert first.status_code == 200
    rows = re.findall(r"<code>list.update</code>", first.text)
    assert len(rows) == 50
    # Copenhagen summer time: 10:00 UTC is 12:00; the newest entry (119 h later) first.
    newest = start + timedelta(hours=119)
    shown = newest.astimezone(ZoneInfo("Europe/Copenhagen")).strftime("%Y-%m-%d %H:%M:%S")
    assert shown in first.text
    older = re.search(r'href="/app/audit(\?[^"]+)" rel="next"', first.text)
    assert older
    second = await client.get("/app/audit" + older.group(1).replace("&amp;", "&"))
    assert len(re.findall(r"<code>list.update</code>", second.text)) == 50
    assert "list:l69<" in second.text and "list:l70<" not in second.text

    # Filters: one object; an actor; a local time range (Stockholm for Swedish pages).
    one = await client.get("/app/audit", params={"object": "list:l7"})
    assert len(re.findall(r"<code>list.update</code>", one.text)) == 1
    actor = await client.get("/app/audit", params={"actor": "token:1"})
    assert len(re.findall(r"<code>list.update</code>", actor.text)) == 50
    ranged = await client.get(
        "/app/audit",
        params={"since": "2026-07-01T12:00", "until": "2026-07-01T15:00"},
        headers={"Accept-Language": "sv"},
    )
    # 12:00–15:00 in Stockholm is 10:00–13:00 UTC: the first three entries.
    assert len(re.findall(r"<code>list.update</code>", ranged.text)) == 3
    assert "2026-07-01 12:00:00" in ranged.text, re.findall(r"<time[^>]*>[^<]*</time>", ranged.text)
    bad = await client.get("/app/audit", params={"since": "yesterday", "before": "-4"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    backwards = await client.get(
        "/app/audit", params={"since": "2026-07-02T00:00", "until": "2026-07-01T00:00"}
    )
    assert backwards.status_code == 422


@pytest.mark.parametrize(
    "params",
    [
        {"actor": "\x00"},
        {"action": "site.\x00update", "object": "x" * 5000},
        {"since": "0001-01-01T00:00"},
        {"until": "9999-12-31T23:59", "since": "2026-13-01T00:00"},
        {"before": "9" * 25},
        {"before": "0"},
        {"since": "2026-07-01T12:00+99:00"},
    ],
)
async def test_odd_audit_filters_get_an_answer_not_an_error(
    api: Api, settings: Settings, params: dict[str, str]
) -> None:
    await sign_in_as(api.client, settings, "admin")
    response = await api.client.get("/app/audit", params=params)
    assert response.status_code in {200, 422}, response.text[:300]


async def test_odd_form_bodies_get_an_answer_not_an_error(api: Api, settings: Settings) -> None:
    client = api.client
    await sign_in_as(client, settings, "admin")
    token = csrf_token(await client.get("/app/sites"))
    headers = {"x-csrftoken": token}
    for path in ("/app/sites", "/app/sites/demo-site", "/app/fields"):
        as_json = await client.post(path, json={"key": "x"}, headers=headers)
        assert as_json.status_code == 422, (path, as_json.status_code)
        garbage = await client.post(
            path,
            content=b"\xff\xfe=%%%&&key=\x00",
            headers={**headers, "content-type": "application/x-www-form-urlencoded"},
        )
        assert garbage.status_code in {400, 422}, (path, garbage.status_code)
    many = await client.post(
        "/app/sites",
        data={**SITE_FORM, "default_lists": [f"l{n}" for n in range(500)], "_csrf_token": token},
    )
    assert many.status_code == 422
    nul = await client.post(
        "/app/fields",
        data={**FIELD_FORM, "label_da": "a\x00b", "choices": "a\x00\nb", "_csrf_token": token},
    )
    assert nul.status_code == 422
