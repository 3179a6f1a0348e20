"""Administration functions used by the ``brevdue`` command."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import DemoSeed, create_token, list_tokens, seed_demo
from services.campaigns.app import create_app
from shared.schema import mailing_lists, member_sites, staff_users
from shared.settings import Settings
from tests.conftest import app_for


async def test_seed_demo_is_idempotent(settings: Settings, db: AsyncEngine) -> None:
    first = await seed_demo(settings)
    assert first == DemoSeed(
        lists_created=("kultur", "idraet", "boern-unge"), site_created=True, staff_user_created=True
    )
    assert first.created_anything
    second = await seed_demo(settings)
    assert second == DemoSeed(lists_created=(), site_created=False, staff_user_created=False)
    assert not second.created_anything

    async with db.connect() as conn:
        lists = (await conn.execute(sa.select(mailing_lists))).mappings().all()
        sites = (await conn.execute(sa.select(member_sites))).mappings().all()
        staff = (await conn.execute(sa.select(staff_users))).mappings().all()
    by_slug = {row["slug"]: row for row in lists}
    assert set(by_slug) == {"kultur", "idraet", "boern-unge"}
    assert (by_slug["boern-unge"]["name_da"], by_slug["boern-unge"]["name_sv"]) == (
        "Børn og unge",
        "Barn och unga",
    )
    assert by_slug["kultur"]["name_en"] == "Culture"
    assert len(sites) == 1
    site = sites[0]
    assert site["key"] == "demo-site" and site["country"] == "DK"
    assert site["municipality"] == "dk-koebenhavn"
    assert site["require_proof_of_work"] is False
    assert site["allowed_origins"] == ["http://127.0.0.1:8001", "http://localhost:8001"]
    assert site["default_lists"] == ["kultur"] and site["default_language"] == "da"
    assert [(row["email"], row["role"]) for row in staff] == [("admin@brevdue.local", "admin")]


async def test_created_token_authenticates(settings: Settings, live_server: type) -> None:
    token = await create_token(settings, "admin", "cli")
    infos = await list_tokens(settings)
    assert [(info.role, info.label, info.revoked_at) for info in infos] == [("admin", "cli", None)]
    assert token not in repr(infos)
    async with (
        live_server(app_for(create_app, settings)) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        headers = {"Authorization": f"Bearer {token}"}
        response = await client.get("/api/lists", headers=headers)
        assert response.status_code == 200
        created = await client.post(
            "/api/lists",
            headers=headers,
            json={"slug": "x", "names": {"da": "X", "sv": "X", "en": "X"}},
        )
        assert created.status_code == 201
