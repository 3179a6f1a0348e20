"""Every API route × every kind of caller: who gets in, who gets 401, who gets 403."""

from __future__ import annotations

import re

import httpx
import pytest

from services.campaigns import accounts, auth
from services.campaigns.app import create_app
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings
from tests.campaigns.conftest import CAMPAIGN, Api, new_campaign
from tests.campaigns.staff_support import csrf_token, sign_in_as
from tests.conftest import app_for

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database

# The least role each route needs: the permission model, written down once.
REQUIRED: dict[tuple[str, str], str] = {
    ("GET", "/api/lists"): "viewer",
    ("POST", "/api/lists"): "admin",
    ("GET", "/api/lists/{slug:str}"): "viewer",
    ("PATCH", "/api/lists/{slug:str}"): "admin",
    ("GET", "/api/campaigns"): "viewer",
    ("POST", "/api/campaigns"): "editor",
    ("GET", "/api/campaigns/{campaign_id:int}"): "viewer",
    ("PATCH", "/api/campaigns/{campaign_id:int}"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/preview"): "viewer",
    ("GET", "/api/campaigns/{campaign_id:int}/failures"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/send"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/pause"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/resume"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/cancel"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/retry-failed"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/schedule"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/unschedule"): "editor",
    ("POST", "/api/campaigns/{campaign_id:int}/test"): "editor",
    ("GET", "/api/campaigns/{campaign_id:int}/progress"): "viewer",
    ("GET", "/api/campaigns/{campaign_id:int}/engagement"): "viewer",
    ("GET", "/api/sites"): "viewer",
    ("POST", "/api/sites"): "admin",
    ("GET", "/api/sites/{key:str}"): "viewer",
    ("PATCH", "/api/sites/{key:str}"): "admin",
    ("DELETE", "/api/sites/{key:str}"): "admin",
    ("GET", "/api/sites/{key:str}/snippets"): "viewer",
    ("GET", "/api/sites/{key:str}/stats"): "viewer",
    ("GET", "/api/fields"): "viewer",
    ("POST", "/api/fields"): "admin",
    ("GET", "/api/fields/{key:str}"): "viewer",
    ("PATCH", "/api/fields/{key:str}"): "admin",
    ("DELETE", "/api/fields/{key:str}"): "admin",
    ("GET", "/api/segments"): "viewer",
    ("POST", "/api/segments"): "editor",
    ("POST", "/api/segments/count"): "viewer",
    ("GET", "/api/segments/{segment_id:int}"): "viewer",
    ("PATCH", "/api/segments/{segment_id:int}"): "editor",
    ("DELETE", "/api/segments/{segment_id:int}"): "editor",
    ("GET", "/api/lists/{slug:str}/stats"): "viewer",
    ("GET", "/api/lists/{slug:str}/export.csv"): "admin",
    ("GET", "/api/subscribers"): "viewer",
    ("GET", "/api/subscribers/{subscriber_id:int}"): "viewer",
    ("POST", "/api/subscribers/export"): "admin",
    ("POST", "/api/subscribers/erase"): "admin",
    ("GET", "/api/audit"): "admin",
    ("GET", "/api/users"): "admin",
    ("POST", "/api/users"): "admin",
    ("GET", "/api/users/{user_id:int}"): "admin",
    ("PATCH", "/api/users/{user_id:int}"): "admin",
    ("GET", "/api/tokens"): "admin",
    ("POST", "/api/tokens"): "admin",
    ("DELETE", "/api/tokens/{token_id:int}"): "admin",
    ("GET", "/api/dashboard"): "viewer",
    ("GET", "/api/organisation"): "viewer",
    ("PUT", "/api/organisation"): "admin",
    ("GET", "/api/sites/{key:str}/reach"): "viewer",
    ("GET", "/api/sites/{key:str}/reach.csv"): "viewer",
    ("GET", "/api/sites/reach.csv"): "viewer",
    ("GET", "/api/campaigns/{campaign_id:int}/reach"): "viewer",
    ("GET", "/api/webhooks"): "admin",
    ("POST", "/api/webhooks"): "admin",
    ("GET", "/api/webhooks/{webhook_id:int}"): "admin",
    ("PATCH", "/api/webhooks/{webhook_id:int}"): "admin",
    ("DELETE", "/api/webhooks/{webhook_id:int}"): "admin",
    ("POST", "/api/webhooks/{webhook_id:int}/test"): "admin",
    ("GET", "/api/webhooks/{webhook_id:int}/deliveries"): "admin",
}
CALLERS = ("anonymous", "viewer", "editor", "admin", "deactivated user", "revoked token")


def _api_routes(settings: Settings) -> set[tuple[str, str]]:
    app = app_for(create_app, settings)
    return {
        (method, route.path)
        for route in app.routes
        if route.path.startswith("/api")
        for handler in route.route_handlers  # type: ignore[attr-defined]
        for method in handler.http_methods
        if method not in {"OPTIONS", "HEAD"}
    }


def test_the_table_names_every_api_route(settings: Settings) -> None:
    assert _api_routes(settings) == set(REQUIRED)


def _concrete(path: str) -> str:
    # Ids that exist nowhere: an allowed caller gets past the check and then a 404 or 422.
    return re.sub(r"\{(\w+):(\w+)\}", lambda m: "999999" if m[2] == "int" else "nope", path)


async def _dead_tokens(settings: Settings) -> dict[str, str]:
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        user, _ = await accounts.create_user(
            session, "gone@example.dk", "admin", password="a long enough password"
        )
        deactivated = await auth.issue_token(session, "admin", "gone", staff_user_id=user.id)
        await accounts.set_active(session, user.id, False)
        revoked = await auth.issue_token(session, "admin", "revoked")
        await auth.revoke(session, revoked)
    await engine.dispose()
    return {"deactivated user": deactivated, "revoked token": revoked}


@pytest.mark.parametrize("caller", CALLERS)
async def test_every_route_for_every_caller(api: Api, settings: Settings, caller: str) -> None:
    tokens = {**api.tokens, **await _dead_tokens(settings)}
    headers = {} if caller == "anonymous" else {"Authorization": f"Bearer {tokens[caller]}"}
    wrong: list[str] = []
    for (method, path), required in sorted(REQUIRED.items()):
        response = await api.client.request(
            method, _concrete(path), headers=headers, json={} if method != "GET" else None
        )
        if caller in {"anonymous", "deactivated user", "revoked token"}:
            expected_ok = response.status_code == 401
        elif auth.role_allows(caller, required):  # type: ignore[arg-type]
            expected_ok = response.status_code not in {401, 403, 500}
        else:
            expected_ok = response.status_code == 403
        if not expected_ok:
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


# The staff app's campaign pages: the least role each needs, through the same check.
APP_PAGES: dict[tuple[str, str], str] = {
    ("GET", "/app/campaigns"): "viewer",
    ("GET", "/app/campaigns/new"): "editor",
    ("POST", "/app/campaigns/new"): "editor",
    ("GET", "/app/campaigns/{id}/edit"): "viewer",
    ("POST", "/app/campaigns/{id}/edit"): "editor",
    ("GET", "/app/campaigns/{id}/preview"): "viewer",
    ("GET", "/app/campaigns/{id}/preview-panel"): "viewer",
    ("GET", "/app/campaigns/{id}/readers?q=a"): "viewer",
}


@pytest.mark.parametrize("caller", ("anonymous", "viewer", "editor", "admin", "deactivated user"))
async def test_every_campaign_page_for_every_caller(
    api: Api, settings: Settings, caller: str
) -> None:
    campaign_id = (await new_campaign(api))["id"]
    async with httpx.AsyncClient(base_url=api.client.base_url, timeout=20) as client:
        if caller != "anonymous":
            role = "editor" if caller == "deactivated user" else caller
            user_id = await sign_in_as(client, settings, role)
        token = csrf_token(await client.get("/app/login"))
        if caller == "deactivated user":
            engine = create_engine(settings.database_url)
            async with create_sessionmaker(engine)() as session:
                await accounts.set_active(session, user_id, False)
            await engine.dispose()
        wrong: list[str] = []
        for (method, path), required in APP_PAGES.items():
            url = path.replace("{id}", str(campaign_id))
            data = {"_csrf_token": token, "subject": "x"} if method == "POST" else None
            response = await client.request(method, url, data=data)
            to_login = response.status_code == 303 and response.headers["location"] == "/app/login"
            if caller in {"anonymous", "deactivated user"}:
                expected_ok = to_login
            elif auth.role_allows(caller, required):  # type: ignore[arg-type]
                expected_ok = not to_login and response.status_code not in {401, 403, 500}
            else:
                expected_ok = response.status_code == 403
            if not expected_ok:
                wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


# The staff app's audience pages: the least role each needs (sessions, same rule as the API).
APP_REQUIRED: dict[tuple[str, str], str] = {
    ("GET", "/app/lists"): "viewer",
    ("POST", "/app/lists"): "admin",
    ("GET", "/app/lists/kultur"): "viewer",
    ("POST", "/app/lists/kultur"): "admin",
    ("GET", "/app/subscribers?q=a"): "viewer",
    ("GET", "/app/subscribers/999999"): "viewer",
    ("GET", "/app/subscribers/999999/export"): "admin",
    ("POST", "/app/subscribers/999999/export"): "admin",
    ("GET", "/app/subscribers/999999/erase"): "admin",
    ("POST", "/app/subscribers/999999/erase"): "admin",
}


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
async def test_audience_pages_for_every_role(api: Api, settings: Settings, role: str) -> None:
    from tests.campaigns.staff_support import csrf_token, sign_in_as

    await sign_in_as(api.client, settings, role)
    token = csrf_token(await api.client.get("/app/account"))
    wrong: list[str] = []
    for (method, path), required in sorted(APP_REQUIRED.items()):
        data = {"_csrf_token": token} if method == "POST" else None
        response = await api.client.request(method, path, data=data)
        if auth.role_allows(role, required):  # type: ignore[arg-type]
            ok = response.status_code not in {401, 403, 500}
        else:
            ok = response.status_code == 403
        if not ok:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    api.client.cookies.clear()
    anonymous = await api.client.get("/app/lists")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/app/login"


# The staff app's overview, member site, custom field and audit log pages: the least role each
# needs (GET shows the page; POST changes something and carries the session's CSRF token).
SECTION_PAGES: dict[tuple[str, str], str] = {
    ("GET", "/app/"): "viewer",
    ("GET", "/app/overview/active"): "viewer",
    ("GET", "/app/sites"): "viewer",
    ("POST", "/app/sites"): "admin",
    ("GET", "/app/sites/demo-site"): "viewer",
    ("POST", "/app/sites/demo-site"): "admin",
    ("GET", "/app/sites/demo-site/delete"): "admin",
    ("POST", "/app/sites/demo-site/delete"): "admin",
    ("GET", "/app/fields"): "viewer",
    ("POST", "/app/fields"): "admin",
    ("GET", "/app/fields/nope"): "viewer",
    ("POST", "/app/fields/nope"): "admin",
    ("GET", "/app/fields/nope/delete"): "admin",
    ("POST", "/app/fields/nope/delete"): "admin",
    ("GET", "/app/audit"): "admin",
    ("GET", "/app/segments"): "viewer",
    ("GET", "/app/segments/new"): "editor",
    ("POST", "/app/segments/new"): "editor",
    ("POST", "/app/segments/count"): "viewer",
    ("GET", "/app/segments/999999"): "viewer",
    ("POST", "/app/segments/999999"): "editor",
    ("GET", "/app/segments/999999/delete"): "editor",
    ("POST", "/app/segments/999999/delete"): "editor",
    ("GET", "/app/organisation"): "admin",
    ("POST", "/app/organisation"): "admin",
    ("GET", "/app/import"): "admin",
    ("POST", "/app/import"): "admin",
    ("GET", "/app/import/nope"): "admin",
    ("POST", "/app/import/nope"): "admin",
    ("GET", "/app/import/nope/progress"): "admin",
    ("GET", "/app/import/nope/rejected.csv"): "admin",
}


# The campaign page and its forms: the least role each needs (GET pages, POST forms).
SENDING_PAGES: dict[tuple[str, str], str] = {
    ("GET", "/app/campaigns/{id}"): "viewer",
    ("GET", "/app/campaigns/{id}/progress"): "viewer",
    **{
        ("POST", f"/app/campaigns/{{id}}/{action}"): "editor"
        for action in (
            "test",
            "send",
            "schedule",
            "unschedule",
            "pause",
            "resume",
            "cancel",
            "retry-failed",
        )
    },
}


@pytest.mark.parametrize("caller", ["anonymous", "viewer", "editor", "admin"])
async def test_app_pages_for_every_role(api: Api, settings: Settings, caller: str) -> None:
    client = api.client
    if caller != "anonymous":
        await sign_in_as(client, settings, caller)
    token = csrf_token(await client.get("/app/login"))
    wrong: list[str] = []
    # Deletions last, so the pages before them still find the demo site.
    for (method, path), required in sorted(
        SECTION_PAGES.items(), key=lambda item: "delete" in item[0][1]
    ):
        data = {"_csrf_token": token, "name": "Demo", "country": "DK"} if method == "POST" else None
        response = await client.request(method, path, data=data)
        if caller == "anonymous":
            expected_ok = response.status_code in {303, 403}
        elif auth.role_allows(caller, required):  # type: ignore[arg-type]
            expected_ok = response.status_code not in {401, 403} and response.status_code < 500
        else:
            expected_ok = response.status_code == 403
        if not expected_ok:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("caller", ["anonymous", "viewer", "editor", "admin"])
async def test_the_campaign_page_for_every_caller(
    api: Api, settings: Settings, caller: str
) -> None:
    created = await api.post("/api/campaigns", json=CAMPAIGN)
    campaign_id = created.json()["id"]
    async with httpx.AsyncClient(base_url=str(api.client.base_url), timeout=20) as client:
        if caller != "anonymous":
            await sign_in_as(client, settings, caller)
        form = await client.get("/app/login" if caller == "anonymous" else "/app/account")
        token = csrf_token(form)
        wrong: list[str] = []
        for (method, path), required in SENDING_PAGES.items():
            url = path.format(id=campaign_id)
            # Posts carry no "confirm": an allowed caller gets the confirmation step or a 4xx
            # about the campaign's state, and nothing is sent.
            data = {"_csrf_token": token} if method == "POST" else None
            response = await client.request(method, url, data=data)
            if caller == "anonymous":
                ok = response.status_code == 303 and response.headers["location"] == "/app/login"
            elif auth.role_allows(caller, required):  # type: ignore[arg-type]
                ok = response.status_code not in {401, 403} and response.status_code < 500
            else:
                ok = response.status_code == 403
            if not ok:
                wrong.append(f"{method} {path}: {response.status_code}")
        assert not wrong, "\n".join(wrong)
    status = (await api.get(f"/api/campaigns/{campaign_id}")).json()["status"]
    assert status in {"draft", "scheduled"}
