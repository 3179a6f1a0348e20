"""Application wiring: factory from the environment, health probes, schema, error shapes."""

from __future__ import annotations

import httpx
import pytest

from services.campaigns.app import create_app, create_app_from_env
from shared.settings import Settings
from tests.campaigns.conftest import Api


def test_factory_exits_2_on_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BREVDUE_SECRET_KEYS", raising=False)
    with pytest.raises(SystemExit) as caught:
        create_app_from_env()
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("brevdue: BREVDUE_SECRET_KEYS")
    assert err.count("\n") == 1


def test_factory_builds_app_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREVDUE_SECRET_KEYS", "a-long-enough-secret-key")
    assert create_app_from_env().openapi_config is not None


async def test_health(api: Api) -> None:
    live = await api.client.get("/health/live")
    assert live.status_code == 200 and live.json()["status"] == "ok"
    ready = await api.client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_ready_is_503_when_database_is_down(
    settings: Settings, live_server: type, redis_url: str
) -> None:
    down = Settings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        redis_url=redis_url,
        secret_keys=settings.secret_keys,
        log_level="ERROR",
    )
    async with (
        live_server(create_app(down)) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        response = await client.get("/health/ready")
        assert response.json()["checks"]["redis"] == "ok"
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert response.json()["checks"]["database"] != "ok"
        assert (await client.get("/health/live")).status_code == 200


async def test_openapi_schema_declares_bearer(api: Api) -> None:
    response = await api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["BearerToken"]["description"],
    }
    operation = schema["paths"]["/api/campaigns/{campaign_id}/send"]["post"]
    assert operation["security"] == [{"BearerToken": []}]
    assert "/health/ready" in schema["paths"]


async def test_unknown_route_and_method_are_json(api: Api) -> None:
    missing = await api.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/json")
    wrong = await api.client.delete("/api/lists", headers=api.headers("admin"))
    assert wrong.status_code == 405
    assert wrong.json()["error"]
