"""schemathesis against the subscriptions service's OpenAPI schema: no request it generates,
valid or not, may get a server error, and every answer the schema describes must match it.

Runs on SQLite only: it tests HTTP behaviour (bad input answered with 4xx), which does not
depend on the database, and keeps the suite's time in bounds.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from shared.settings import Settings
from tests.subscriptions.member_sites import seed_member_site
from tests.support.schema_tests import SCHEMA_PATH, run_schema


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_generated_request_gets_a_server_error(
    settings: Settings,
    live_server: Any,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=["https://malmo.example"])
    # No minimum answer time and generous limits: the point is what bad input does, and a
    # 429 for every later request would hide it.
    app = create_app(
        replace(
            settings,
            signup_min_duration=0.0,
            signup_limit_per_ip=100_000,
            signup_limit_per_address=100_000,
        )
    )
    async with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            schema = (await client.get(SCHEMA_PATH)).json()
        run = await asyncio.to_thread(
            run_schema,
            server.url,
            max_examples=12,
            hostile=True,
            known={"key": "malmo-bibliotek"},
            checks=(not_a_server_error, response_schema_conformance),
        )

    assert {"/subscribe", "/embed/{key}", "/preferences/{token}"} <= set(schema["paths"])
    body = schema["paths"]["/subscribe"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)
    assert run.errors == [], "\n\n".join(run.errors)
    # Every operation also got the malformed Origin/Referer headers, and the sign-ups the deeply
    # nested JSON bodies (each was once answered with a server error).
    operations = {label for label, _ in run.hostile}
    assert len(operations) == run.operations
    assert all((label, "header") in run.hostile for label in operations)
    assert {("POST /subscribe", "deep-json"), ("POST /embed/{key}", "deep-json")} <= run.hostile
    posts = {f"POST /preferences/{{token}}{path}" for path in ("", "/unsubscribe", "/export")}
    assert posts | {"POST /preferences/{token}/erase", "POST /export/{token}"} <= operations
    # Proof that requests went out, most of them answered (any status below 500).
    assert sum(run.statuses.values()) >= 10 * run.operations, run.statuses
