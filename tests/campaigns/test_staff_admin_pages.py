"""The staff app's admin pages over real HTTP: users and tokens, and who may use them."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from services.campaigns import accounts
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.test_staff_app import csrf_token, log_in

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database

PASSWORD = "a long enough password"


async def _staff(settings: Settings, email: str, role: str) -> int:
    """A staff user with a password of their own; return the id."""
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        account, _ = await accounts.create_user(session, email, role, password=PASSWORD)
    await engine.dispose()
    return account.id


async def _role_of(settings: Settings, user_id: int) -> str:
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        role = (await accounts.get_user(session, user_id)).role
    await engine.dispose()
    return role


async def _post(
    client: httpx.AsyncClient, form_page: str, path: str, **data: Any
) -> httpx.Response:
    form = await client.get(form_page)
    return await client.post(path, data={**data, "_csrf_token": csrf_token(form)})


async def test_admin_invites_changes_roles_and_deactivates(api: Api, settings: Settings) -> None:
    await _staff(settings, "boss@example.dk", "admin")
    editor_id = await _staff(settings, "ed@example.dk", "editor")
    client = api.client
    assert (await log_in(client, "boss@example.dk", PASSWORD)).status_code == 303
    page = await client.get("/app/users")
    assert page.status_code == 200 and "ed@example.dk" in page.text
    invited = await _post(client, "/app/users", "/app/users", email="new@example.dk", role="viewer")
    assert invited.status_code == 200 and "new@example.dk" in invited.text
    twice = await _post(client, "/app/users", "/app/users", email="new@example.dk", role="viewer")
    assert twice.status_code == 422
    changed = await _post(client, "/app/users", f"/app/users/{editor_id}/role", role="viewer")
    assert changed.status_code == 200 and await _role_of(settings, editor_id) == "viewer"
    off = await _post(client, "/app/users", f"/app/users/{editor_id}/active", active="0")
    assert off.status_code == 200
    assert (await log_in(client, "ed@example.dk", PASSWORD)).status_code == 401


async def test_a_token_is_shown_once_and_revoked_at_once(api: Api, settings: Settings) -> None:
    await _staff(settings, "boss@example.dk", "admin")
    editor_id = await _staff(settings, "ed@example.dk", "editor")
    client = api.client
    await log_in(client, "boss@example.dk", PASSWORD)
    created = await _post(
        client, "/app/tokens", "/app/tokens", user_id=str(editor_id), role="editor", label="ci"
    )
    assert created.status_code == 200
    found = re.search(r"bdv_[\w-]+", created.text)
    assert found
    token = found[0]
    own = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/lists", headers=own)).status_code == 200
    listing = await client.get("/app/tokens")
    assert token not in listing.text and "ci" in listing.text
    token_id = re.findall(r'action="/app/tokens/(\d+)/revoke"', listing.text)[-1]
    revoked = await _post(client, "/app/tokens", f"/app/tokens/{token_id}/revoke")
    assert revoked.status_code == 200
    assert (await client.get("/api/lists", headers=own)).status_code == 401
    too_high = await _post(
        client, "/app/tokens", "/app/tokens", user_id=str(editor_id), role="admin"
    )
    assert too_high.status_code == 422


async def test_non_admins_get_no_admin_pages_and_forged_posts_are_refused(
    api: Api, settings: Settings
) -> None:
    viewer_id = await _staff(settings, "viewer@example.dk", "viewer")
    client = api.client
    await log_in(client, "viewer@example.dk", PASSWORD)
    home = await client.get("/app/")
    assert "/app/users" not in home.text and "/app/tokens" not in home.text
    assert (await client.get("/app/users")).status_code == 403
    assert (await client.get("/app/tokens")).status_code == 403
    # A valid CSRF token from a page the viewer may see does not make the action allowed.
    forged = await _post(client, "/app/", f"/app/users/{viewer_id}/role", role="admin")
    assert forged.status_code == 403
    assert await _role_of(settings, viewer_id) == "viewer"
    no_csrf = await client.post(f"/app/users/{viewer_id}/role", data={"role": "admin"})
    assert no_csrf.status_code == 403


async def test_anonymous_callers_are_sent_to_the_login(api: Api) -> None:
    for path in ("/app/users", "/app/tokens"):
        response = await api.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/app/login"
