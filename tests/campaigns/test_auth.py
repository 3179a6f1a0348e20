"""Bearer tokens: missing, malformed, unknown, revoked, and role checks."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import create_token, list_tokens, revoke_token
from services.campaigns.errors import InvalidInput
from shared.schema import api_tokens
from shared.settings import Settings
from tests.campaigns.conftest import CAMPAIGN, Api

BAD_HEADERS = [
    None,
    "",
    "Bearer",
    "Bearer  x y",
    "Basic dXNlcjpwYXNz",
    "Bearer bdv_unknown",
    "Bearer nope",
]


async def test_missing_or_bad_token_is_401(api: Api) -> None:
    # Every header against one app and database (the set-up cost many times the request).
    for header in BAD_HEADERS:
        headers = {} if header is None else {"Authorization": header}
        response = await api.client.get("/api/lists", headers=headers)
        assert response.status_code == 401, header
        assert response.headers["www-authenticate"].startswith("Bearer"), header
        assert response.json()["error"], header


async def test_revoked_token_is_401(api: Api, settings: Settings) -> None:
    token = await create_token(settings, "editor", "to revoke")
    ok = await api.client.get("/api/lists", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert await revoke_token(settings, token) is True
    assert await revoke_token(settings, token) is False  # already revoked
    refused = await api.client.get("/api/lists", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]


async def test_revoke_by_id(api: Api, settings: Settings) -> None:
    token = await create_token(settings, "viewer", "by id")
    info = [t for t in await list_tokens(settings) if t.label == "by id"][0]
    assert await revoke_token(settings, str(info.id)) is True
    assert await revoke_token(settings, 10**30) is False
    response = await api.client.get("/api/lists", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_viewer_reads_but_cannot_write(api: Api) -> None:
    assert (await api.get("/api/lists", role="viewer")).status_code == 200
    assert (await api.get("/api/campaigns", role="viewer")).status_code == 200
    response = await api.post("/api/campaigns", role="viewer", json=CAMPAIGN)
    assert response.status_code == 403
    assert "editor" in response.json()["error"]


async def test_only_admin_creates_lists(api: Api) -> None:
    data = {"slug": "musik", "names": {"da": "Musik", "sv": "Musik", "en": "Music"}}
    assert (await api.post("/api/lists", role="editor", json=data)).status_code == 403
    assert (await api.post("/api/lists", role="admin", json=data)).status_code == 201


async def test_editor_and_admin_create_campaigns(api: Api) -> None:
    for role in ("editor", "admin"):
        response = await api.post("/api/campaigns", role=role, json=CAMPAIGN)
        assert response.status_code == 201, response.text


async def test_tokens_are_stored_only_as_digest(
    api: Api, settings: Settings, db: AsyncEngine
) -> None:
    token = await create_token(settings, "admin", "digest check")
    assert token.startswith("bdv_") and len(token) > 40
    async with db.connect() as conn:
        rows = (await conn.execute(sa.select(api_tokens))).mappings().all()
    assert all(token not in str(dict(row)) for row in rows)
    digests = {row["token_hash"] for row in rows}
    assert hashlib.sha256(token.encode()).hexdigest() in digests


async def test_create_token_rejects_unknown_role(settings: Settings) -> None:
    with pytest.raises(InvalidInput) as caught:
        await create_token(settings, "root")
    assert "role" in caught.value.errors
