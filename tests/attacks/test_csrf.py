"""CSRF: every form route of the staff app (read from the app's route table, so new ones are
covered) refuses a POST that carries a signed-in admin's session cookie but no CSRF token, or
another session's token, and changes nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from services.campaigns.app import create_app
from shared.settings import Settings
from tests.campaigns.staff_support import csrf_token, sign_in_as

PATH_VALUES = {"int": "1", "str": "kultur"}


def form_routes(app: Any) -> list[str]:
    """The paths of the staff app's POST routes, with a value for each path parameter."""
    paths = []
    for route in app.routes:
        if not route.path.startswith("/app/") or "POST" not in getattr(route, "methods", ()):
            continue
        paths.append(
            re.sub(r"\{\w+:(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "x"), route.path)
        )
    return sorted(paths)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_staff_form_refuses_a_post_without_its_csrf_token(
    settings: Settings, live_server: Any, redis: Redis
) -> None:
    app = create_app(settings)
    paths = form_routes(app)
    async with (
        live_server(app) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as victim,
        httpx.AsyncClient(base_url=server.url, timeout=10) as attacker,
    ):
        await sign_in_as(victim, settings, "admin")
        # The attacker's own session has a valid CSRF token, which is not the victim's.
        foreign_token = csrf_token(await attacker.get("/app/login"))
        audit_before = (await victim.get("/app/audit")).text.count("<tr")

        for path in paths:
            for data in ({"name": "x"}, {"name": "x", "_csrf_token": foreign_token}):
                response = await victim.post(path, data=data)
                assert response.status_code == 403, (path, data, response.status_code)
        audit_after = (await victim.get("/app/audit")).text.count("<tr")

    assert "/app/login" in paths and "/app/logout" in paths
    assert len(paths) >= 20, paths
    assert audit_after == audit_before
