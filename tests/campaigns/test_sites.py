"""Member sites over HTTP: registry, validation, roles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import mailing_lists, member_sites, subscribers, subscriptions
from tests.campaigns.conftest import Api

SITE: dict[str, Any] = {
    "key": "malmo-bibliotek",
    "name": "Malmö stadsbibliotek",
    "country": "SE",
    "municipality": "Malmö",
    "allowed_origins": [
        "HTTPS://Bibliotek.Malmo.SE",
        "https://bibliotek.malmo.se:443/",
        "http://localhost:8080",
    ],
    "default_lists": ["kultur", "idraet"],
    "thank_you_url": "https://bibliotek.malmo.se/tack?fran=brevdue",
}


async def new_site(api: Api, **changes: Any) -> dict[str, Any]:
    """Register a site through the API and return its JSON."""
    response = await api.post("/api/sites", role="admin", json={**SITE, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_site_normalises_and_fills_defaults(api: Api) -> None:
    site = await new_site(api)
    assert site["key"] == "malmo-bibliotek" and site["name"] == "Malmö stadsbibliotek"
    assert (site["municipality"], site["municipality_name"]) == ("se-malmo", "Malmö")
    assert site["allowed_origins"] == ["https://bibliotek.malmo.se", "http://localhost:8080"]
    assert site["default_lists"] == ["kultur", "idraet"]
    assert site["default_language"] == "sv"  # the country's language
    assert site["thank_you_url"] == "https://bibliotek.malmo.se/tack?fran=brevdue"
    assert site["require_proof_of_work"] is False
    assert site["created_at"].endswith(("Z", "+00:00"))
    assert (await api.get("/api/sites/malmo-bibliotek")).json() == site
    keys = [item["key"] for item in (await api.get("/api/sites")).json()["items"]]
    assert keys == ["demo-site", "malmo-bibliotek"]


async def test_minimal_site(api: Api) -> None:
    site = await new_site(
        api,
        key="kb",
        name="Kulturhuset",
        country="DK",
        municipality=None,
        allowed_origins=[],
        default_lists=[],
        thank_you_url=None,
        default_language="en",
        require_proof_of_work=True,
    )
    assert site["municipality"] is None and site["municipality_name"] is None
    assert site["default_language"] == "en" and site["require_proof_of_work"] is True
    assert site["allowed_origins"] == [] and site["thank_you_url"] is None


ORIGINS = [
    ("https://København.dk", "https://xn--kbenhavn-54a.dk"),
    ("http://[::1]:8001", "http://[::1]:8001"),
    ("http://127.0.0.1:80", "http://127.0.0.1"),
    ("https://a.dk:443", "https://a.dk"),
    ("https://a.dk:8443", "https://a.dk:8443"),
    ("  https://WWW.Example.DK  ", "https://www.example.dk"),
]


async def test_origins_are_stored_as_browsers_send_them(api: Api) -> None:
    # One app and database for every origin (a site of its own each): the set-up per origin
    # cost many times the request.
    for number, (origin, stored) in enumerate(ORIGINS):
        site = await new_site(api, key=f"site-{number}", allowed_origins=[origin])
        assert site["allowed_origins"] == [stored], origin


async def test_duplicate_key_is_409(api: Api) -> None:
    await new_site(api)
    response = await api.post("/api/sites", role="admin", json=SITE)
    assert response.status_code == 409
    assert response.json()["errors"] == {"key": "is already taken"}


INVALID_SITES = [
    ({"key": "A"}, "key"),
    ({"key": "x"}, "key"),
    ({"key": "x" * 65}, "key"),
    ({"key": "ab_c"}, "key"),
    ({"name": "  "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"country": "NO"}, "country"),
    ({"municipality": "Atlantis"}, "municipality"),
    ({"municipality": "København"}, "municipality"),  # in DK, the site says SE
    ({"allowed_origins": ["https://*.malmo.se"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["https://ok.se", "https://a.se/path"]}, "allowed_origins[1]"),
    ({"allowed_origins": ["ftp://a.se"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["a.se"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["https://user:pw@a.se"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["https://a.se?x=1"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["https://a.se#top"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["https://a.se:99999"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["https://-bad.se"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["https://a b.se"]}, "allowed_origins[0]"),
    ({"allowed_origins": ["null"]}, "allowed_origins[0]"),
    ({"allowed_origins": [""]}, "allowed_origins[0]"),
    ({"allowed_origins": [f"https://s{i}.se" for i in range(51)]}, "allowed_origins"),
    ({"allowed_origins": "https://a.se"}, "allowed_origins"),
    ({"default_lists": ["kultur", "nope"]}, "default_lists"),
    ({"default_language": "de"}, "default_language"),
    ({"thank_you_url": "javascript:alert(1)"}, "thank_you_url"),
    ({"thank_you_url": "/tack"}, "thank_you_url"),
    ({"thank_you_url": "https://"}, "thank_you_url"),
    ({"thank_you_url": "https://a.se/" + "x" * 2000}, "thank_you_url"),
    ({"require_proof_of_work": "yes"}, "require_proof_of_work"),
    ({"colour": "red"}, "colour"),
]


async def test_invalid_sites_name_the_field(api: Api) -> None:
    # Every case against one app and database: each is refused and stores nothing, and the
    # set-up per case cost many times the request. The failures are reported together.
    wrong = []
    for changes, field in INVALID_SITES:
        response = await api.post("/api/sites", role="admin", json={**SITE, **changes})
        errors = response.json().get("errors", {}) if response.status_code == 422 else {}
        if field not in errors:
            wrong.append(f"{changes!r:.200}: {response.status_code} {response.text[:500]}")
    assert wrong == [], "\n".join(wrong)
    keys = [item["key"] for item in (await api.get("/api/sites")).json()["items"]]
    assert keys == ["demo-site"]


async def test_all_problems_are_reported_at_once(api: Api) -> None:
    data = {**SITE, "key": "X", "country": "DK", "default_lists": ["nope"], "name": ""}
    response = await api.post("/api/sites", role="admin", json=data)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"key", "name", "municipality", "default_lists"}


async def test_default_lists_must_be_public(api: Api) -> None:
    hidden = {"slug": "intern", "names": {"da": "I", "sv": "I", "en": "I"}, "is_public": False}
    assert (await api.post("/api/lists", role="admin", json=hidden)).status_code == 201
    response = await api.post(
        "/api/sites", role="admin", json={**SITE, "default_lists": ["kultur", "intern"]}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"default_lists": "not a public list: intern"}


async def test_patch_changes_only_given_fields(api: Api) -> None:
    before = await new_site(api)
    response = await api.patch(
        "/api/sites/malmo-bibliotek",
        role="admin",
        json={
            "name": "Stadsbiblioteket",
            "require_proof_of_work": True,
            "allowed_origins": ["https://NY.malmo.se"],
            "thank_you_url": None,
        },
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["name"] == "Stadsbiblioteket" and after["require_proof_of_work"] is True
    assert after["allowed_origins"] == ["https://ny.malmo.se"]
    assert after["thank_you_url"] is None
    unchanged = ("municipality", "country", "default_lists", "default_language", "created_at")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    same = await api.patch("/api/sites/malmo-bibliotek", role="admin", json={})
    assert same.status_code == 200 and same.json() == after


async def test_patch_checks_country_against_stored_municipality(api: Api) -> None:
    await new_site(api)
    response = await api.patch("/api/sites/malmo-bibliotek", role="admin", json={"country": "DK"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"municipality": "Malmö is in SE, not in DK"}
    moved = await api.patch(
        "/api/sites/malmo-bibliotek",
        role="admin",
        json={"country": "DK", "municipality": "dk-helsingoer"},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["country"], moved.json()["municipality"]) == ("DK", "dk-helsingoer")
    cleared = await api.patch(
        "/api/sites/malmo-bibliotek", role="admin", json={"municipality": None}
    )
    assert cleared.json()["municipality"] is None


async def test_patch_refuses_key_and_bad_values(api: Api) -> None:
    await new_site(api)
    for data, field in [
        ({"key": "other"}, "key"),
        ({"default_language": None}, "default_language"),
        ({"allowed_origins": ["https://a.se/x"]}, "allowed_origins[0]"),
    ]:
        response = await api.patch("/api/sites/malmo-bibliotek", role="admin", json=data)
        assert response.status_code == 422, response.text
        assert field in response.json()["errors"]


async def test_unknown_site_is_404(api: Api) -> None:
    for path in ["nope", "nope/snippets", "nope/stats", "x" * 300]:
        response = await api.get(f"/api/sites/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]
    assert (await api.patch("/api/sites/nope", role="admin", json={})).status_code == 404
    assert (await api.delete("/api/sites/nope")).status_code == 404


async def test_delete_keeps_signups_unlinked(api: Api, db: AsyncEngine) -> None:
    site = await new_site(api)
    now = datetime.now(UTC)
    async with db.begin() as conn:
        list_id = (
            await conn.execute(
                sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == "kultur")
            )
        ).scalar_one()
        subscriber_id = (
            await conn.execute(
                sa.insert(subscribers)
                .values(
                    key="k" * 32,
                    email="maja@example.org",
                    language="sv",
                    status="active",
                    source_site_id=site["id"],
                    created_at=now,
                    updated_at=now,
                )
                .returning(subscribers.c.id)
            )
        ).scalar_one()
        await conn.execute(
            sa.insert(subscriptions).values(
                subscriber_id=subscriber_id,
                list_id=list_id,
                status="confirmed",
                source_site_id=site["id"],
                requested_at=now,
            )
        )
    response = await api.delete("/api/sites/malmo-bibliotek")
    assert response.status_code == 204 and response.content == b""
    assert (await api.get("/api/sites/malmo-bibliotek")).status_code == 404
    assert (await api.delete("/api/sites/malmo-bibliotek")).status_code == 404
    async with db.connect() as conn:
        rows = (await conn.execute(sa.select(subscriptions.c.source_site_id))).all()
        sites = (await conn.execute(sa.select(member_sites.c.key))).scalars().all()
    assert rows == [(None,)]
    assert sites == ["demo-site"]


async def test_roles(api: Api) -> None:
    await new_site(api)
    for path in ["", "/malmo-bibliotek", "/malmo-bibliotek/snippets", "/malmo-bibliotek/stats"]:
        assert (await api.get(f"/api/sites{path}", role="viewer")).status_code == 200, path
    other = {**SITE, "key": "other"}
    for role in ("viewer", "editor"):
        assert (await api.post("/api/sites", role=role, json=other)).status_code == 403
        patched = await api.patch("/api/sites/malmo-bibliotek", role=role, json={"name": "X"})
        assert patched.status_code == 403
        assert (await api.delete("/api/sites/malmo-bibliotek", role=role)).status_code == 403
    assert (await api.client.get("/api/sites")).status_code == 401
    assert (await api.client.delete("/api/sites/malmo-bibliotek")).status_code == 401
    assert (await api.get("/api/sites/malmo-bibliotek")).json()["name"] == SITE["name"]
