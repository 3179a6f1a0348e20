"""The staff audit trail and ``GET /api/audit``: admin only, filters, pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.campaigns import staff_audit
from services.campaigns.admin import create_user, reset_password
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings
from tests.campaigns.conftest import Api, new_campaign
from tests.campaigns.test_fields import POSTCODE
from tests.campaigns.test_sites import SITE


async def _record(settings: Settings, count: int) -> None:
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        for n in range(count):
            await staff_audit.record(session, "token:1", "campaign.create", f"campaign:{n}")
        await session.commit()
    await engine.dispose()


async def test_only_admins_read_the_audit_trail(api: Api) -> None:
    assert (await api.get("/api/audit", role="viewer")).status_code == 403
    assert (await api.get("/api/audit", role="editor")).status_code == 403
    assert (await api.client.get("/api/audit")).status_code == 401
    assert (await api.get("/api/audit", role="admin")).status_code == 200


async def test_operator_user_changes_are_recorded(api: Api, settings: Settings) -> None:
    account, _ = await create_user(settings, "ea@example.dk", "editor")
    await reset_password(settings, "ea@example.dk")
    body = (await api.get("/api/audit", role="admin", params={"actor": "system"})).json()
    actions = [(e["action"], e["object"]) for e in body["entries"]]
    assert actions == [
        ("user.reset_password", f"user:{account.id}"),
        ("user.create", f"user:{account.id}"),
    ]
    # No personal data in the trail: the address appears nowhere.
    assert "ea@example.dk" not in str(body)


async def test_filters_and_pages(api: Api, settings: Settings) -> None:
    await _record(settings, 5)
    first = (await api.get("/api/audit", role="admin", params={"limit": 2})).json()
    assert [e["object"] for e in first["entries"]] == ["campaign:4", "campaign:3"]
    second = (
        await api.get(
            "/api/audit", role="admin", params={"limit": 2, "before": first["next_before"]}
        )
    ).json()
    assert [e["object"] for e in second["entries"]] == ["campaign:2", "campaign:1"]
    one = (await api.get("/api/audit", role="admin", params={"object": "campaign:0"})).json()
    assert len(one["entries"]) == 1 and one["next_before"] is None
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    future = (await api.get("/api/audit", role="admin", params={"since": later})).json()
    assert future["entries"] == []


async def test_bad_filters_are_400_or_422(api: Api) -> None:
    for params in ({"limit": 0}, {"limit": 1000}, {"since": "yesterday"}, {"before": -1}):
        response = await api.get("/api/audit", role="admin", params=params)
        assert response.status_code == 400, (params, response.text)
    now = datetime.now(UTC).isoformat()
    same = await api.get("/api/audit", role="admin", params={"since": now, "until": now})
    assert same.status_code == 422


async def _entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    body = (await api.get("/api/audit", role="admin", params={"limit": 200, **params})).json()
    entries: list[dict[str, Any]] = body["entries"]
    return entries[::-1]  # oldest first


async def test_campaign_actions_are_recorded_with_the_acting_token(api: Api) -> None:
    campaign = await new_campaign(api)
    ref = f"campaign:{campaign['id']}"
    assert (await api.patch(f"/api/campaigns/{campaign['id']}", json={"subject": "Nyt"})).is_success
    for action in ("send", "pause", "resume", "cancel"):
        response = await api.post(f"/api/campaigns/{campaign['id']}/{action}")
        assert response.is_success, (action, response.text)
    # Refused actions leave no entry.
    assert (await api.post(f"/api/campaigns/{campaign['id']}/retry-failed")).status_code == 409
    assert (await api.post(f"/api/campaigns/{campaign['id']}/send")).status_code == 409
    entries = await _entries(api, object=ref)
    assert [e["action"] for e in entries] == [
        "campaign.create",
        "campaign.update",
        "campaign.send",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    ]
    assert entries[1]["details"] == {"fields": ["subject"]}
    actors = {e["actor"] for e in entries}
    assert len(actors) == 1 and actors.pop().startswith("token:")


async def test_list_site_field_and_gdpr_actions_are_recorded(api: Api) -> None:
    hidden = {"slug": "intern", "names": {"da": "Intern", "sv": "Intern", "en": "Internal"}}
    assert (await api.post("/api/lists", role="admin", json=hidden)).status_code == 201
    assert (
        await api.patch("/api/lists/intern", role="admin", json={"is_public": False})
    ).is_success
    site = {**SITE, "key": "audit-site"}
    assert (await api.post("/api/sites", role="admin", json=site)).status_code == 201
    assert (await api.patch("/api/sites/audit-site", role="admin", json={"name": "Y"})).is_success
    assert (await api.delete("/api/sites/audit-site", role="admin")).status_code == 204
    assert (await api.post("/api/fields", role="admin", json=POSTCODE)).status_code == 201
    patched = await api.patch("/api/fields/postcode", role="admin", json={"public": False})
    assert patched.is_success, patched.text
    assert (await api.delete("/api/fields/postcode", role="admin")).status_code == 204
    erased = await api.post(
        "/api/subscribers/erase", role="admin", json={"email": "resident@example.dk"}
    )
    assert erased.status_code == 202
    entries = await _entries(api)
    assert [(e["action"], e["object"]) for e in entries] == [
        ("list.create", "list:intern"),
        ("list.update", "list:intern"),
        ("site.create", "site:audit-site"),
        ("site.update", "site:audit-site"),
        ("site.delete", "site:audit-site"),
        ("field.create", "field:postcode"),
        ("field.update", "field:postcode"),
        ("field.delete", "field:postcode"),
        ("subscriber.erase", f"subscriber:{erased.json()['request_id']}"),
    ]
    assert "resident@example.dk" not in str(entries)
