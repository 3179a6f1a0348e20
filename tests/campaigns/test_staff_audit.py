"""The staff audit trail and ``GET /api/audit``: admin only, filters, pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.campaigns import staff_audit
from services.campaigns.admin import create_user, reset_password
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings
from tests.campaigns.conftest import Api


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
