"""The app as a whole: health, factories, pages for unknown routes, never a 500."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis

from services.subscriptions.app import create_app, create_app_from_env
from services.subscriptions.health import readiness_problem
from shared.db import create_engine
from shared.settings import Settings


async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    ready = await client.get("/health/ready")

    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


async def test_ready_is_503_with_a_reason_when_the_database_is_down(
    settings: Settings, live_server: Any, redis: Redis
) -> None:
    down = dataclasses.replace(
        settings, database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
    )
    async with (
        live_server(create_app(down)) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        ready = await http.get("/health/ready")
        live = await http.get("/health/live")
        form = {"email": "a@example.org", "lists": "k", "language": "sv", "consent": "on"}
        failed = await http.post("/subscribe", data=form)

    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["reason"].startswith("database: ")
    assert live.status_code == 200
    # Not bad input, and not a bug: the database is away, so the resident may try again soon
    # (a page, no details).
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "5"
    assert "Traceback" not in failed.text and "asyncpg" not in failed.text


async def test_readiness_names_redis_when_it_is_down(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    dead_redis: Redis = Redis.from_url("redis://127.0.0.1:1/0")
    try:
        problem = await readiness_problem(engine, dead_redis)
    finally:
        await dead_redis.aclose()
        await engine.dispose()
    assert problem is not None and problem.startswith("redis: ")


def test_factory_from_env_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BREVDUE_SECRET_KEYS", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        create_app_from_env()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("brevdue: BREVDUE_SECRET_KEYS ")
    assert err.count("\n") == 1


def test_factory_from_env_builds_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREVDUE_SECRET_KEYS", "a-secret-key-long-enough")
    assert isinstance(create_app_from_env(), Litestar)


async def test_unknown_pages_and_methods_get_pages_not_tracebacks(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/no/such/page", headers={"accept-language": "sv"})
    assert missing.status_code == 404
    assert '<html lang="sv">' in missing.text and "Sidan finns inte" in missing.text

    as_json = await client.get("/no/such/page", headers={"accept": "application/json"})
    assert (as_json.status_code, as_json.json()) == (404, {"error": 404})

    wrong_method = await client.put("/subscribe", content=b"{}")
    assert wrong_method.status_code == 405
    assert "allow" in wrong_method.headers


JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
LATIN1_JSON = {"content-type": "application/json; charset=latin-1"}


GARBAGE: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/subscribe?lang=%ff%00&lists=%00", {}),
    ("GET", "/thanks?lang=" + "x" * 3000, {}),
    ("POST", "/subscribe", {"data": {"lists": ["a"] * 60, "consent": "on"}}),
    ("POST", "/subscribe", {"json": {"lists": "a," * 2000}}),
    ("POST", "/subscribe", {"json": {"email": None, "extra": {"deep": [1, 2]}}}),
    (
        "POST",
        "/subscribe",
        {"content": b"\x00" * 100, "headers": {"content-type": "application/json"}},
    ),
    (
        "POST",
        "/subscribe",
        {"content": b"=&=&&", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    ),
    (
        "POST",
        "/subscribe",
        {
            "headers": {"content-type": "application/json; charset=latin-1"},
            "content": b'{"email": "\xe6@x.dk"}',
        },
    ),
    ("GET", "/confirm/", {}),
    ("POST", "/health/live", {}),
]


async def test_garbage_input_is_never_a_500(
    client: httpx.AsyncClient, lists: dict[str, int]
) -> None:
    # Every request against one app and database (the set-up cost many times the request);
    # the six sign-up posts stay below the per-IP limit, so none is answered by it.
    for method, path, kwargs in GARBAGE:
        response = await client.request(method, path, **kwargs)
        assert response.status_code < 500, (method, path, response.text[:300])
        assert response.status_code != 429, (method, path)


async def test_language_links_never_point_off_site(client: httpx.AsyncClient) -> None:
    request = client.build_request("GET", "/x")
    request.url = request.url.copy_with(raw_path=b"//evil.example/x")
    response = await client.send(request)

    assert response.status_code == 404
    assert 'href="//' not in response.text
    assert 'href="/subscribe?lang=sv"' in response.text
