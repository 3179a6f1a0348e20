"""Redis away while a request needs the job queue: 503 with Retry-After, nothing stored."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from brevdue_cli.redis_server import free_port
from services.subscriptions.app import create_app
from services.subscriptions.outbox_sweep import sweep_outbox
from shared.db import create_sessionmaker
from shared.settings import Settings
from tests.subscriptions.conftest import queued_mails, subscribe_json
from tests.subscriptions.residents import subscriber_rows


async def test_sign_up_with_redis_down_is_503_and_loses_no_mail(
    settings: Settings,
    live_server: Any,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    """The general path enqueues before its commit and stores nothing; a first sign-up on
    PostgreSQL (one statement, queries/first_signup.py) is stored with its mail kept, and the
    outbox sweep queues that mail once Redis is back."""
    app = create_app(settings)
    async with (
        live_server(app) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
    ):
        working = app.state.outbox
        # A client for a port nobody listens on: the confirmation mail cannot be enqueued.
        app.state.outbox = dataclasses.replace(
            working, jobs=ArqRedis(host="127.0.0.1", port=free_port())
        )
        try:
            response = await subscribe_json(client)
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
            assert response.json() == {"error": 503}
        finally:
            await app.state.outbox.jobs.aclose()
            app.state.outbox = working
        if engine.dialect.name == "postgresql":
            assert len(await subscriber_rows(engine)) == 1
            assert await queued_mails(redis) == []
            jobs = app.state.outbox.jobs
            swept = await sweep_outbox(create_sessionmaker(engine), jobs, jobs, settle_seconds=0)
            assert {k: v for k, v in vars(swept).items() if v} == {"replayed": 1}
            [mail] = await queued_mails(redis)
            assert mail.to == "maja@example.org"
        else:
            assert await subscriber_rows(engine) == []
        assert (await subscribe_json(client)).status_code < 300
    assert len(await subscriber_rows(engine)) == 1
