"""A mailer rides out a Redis outage in its process: it keeps running, builds its workers again
when Redis answers, and serves the queue as before."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from redis.asyncio import Redis

from brevdue_cli.redis_server import LocalRedis, free_port, start_local_redis
from services.mailer.worker import run_worker
from shared.contracts import OutboundMail
from shared.jobs import create_job_pool
from shared.queues import (
    HEALTH_CHECK_KEY_BULK,
    HEALTH_CHECK_KEY_TRANSACTIONAL,
    SEND_TRANSACTIONAL,
    TRANSACTIONAL_QUEUE,
)
from shared.settings import Settings
from tests.mailer.support import FAST
from tests.support.smtp import RecordingSMTPServer


async def _send(redis_url: str, key: str) -> None:
    pool = await create_job_pool(redis_url, TRANSACTIONAL_QUEUE)
    try:
        await pool.enqueue_job(
            SEND_TRANSACTIONAL.name,
            SEND_TRANSACTIONAL.encode(
                OutboundMail(message_key=key, category="test", to="a@b.dk", subject=key, text="t")
            ),
            _job_id=f"tx:{key}",
            _queue_name=TRANSACTIONAL_QUEUE,
        )
    finally:
        await pool.aclose()


async def _wait_for(condition: object, seconds: float) -> bool:
    for _ in range(int(seconds / 0.05)):
        if await condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


pytestmark = pytest.mark.one_database


async def test_a_mailer_outlives_a_redis_restart(
    settings: Settings, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    port = free_port()
    server: LocalRedis | None = start_local_redis(tmp_path / "redis", port)
    url = f"redis://127.0.0.1:{port}/0"
    settings = dataclasses.replace(settings, redis_url=url)
    stop = asyncio.Event()
    options = dataclasses.replace(FAST, poll_delay=0.05)
    task = asyncio.create_task(run_worker(settings, options=options, stop=stop))
    client: Redis = Redis.from_url(url)
    try:

        async def healthy() -> bool:
            try:
                return bool(
                    await client.exists(HEALTH_CHECK_KEY_TRANSACTIONAL, HEALTH_CHECK_KEY_BULK) == 2
                )
            except OSError:
                return False

        assert await _wait_for(healthy, 10)
        await _send(url, "before")
        assert await _wait_for(lambda: _count(smtp_server, "before"), 10)

        assert server is not None
        server.stop()
        server = None
        await asyncio.sleep(1.5)  # the workers' next polls fail: arq would end the process here
        assert not task.done(), "the mailer ended when Redis went away"
        server = start_local_redis(tmp_path / "redis", port)
        await client.aclose()
        client = Redis.from_url(url)

        assert await _wait_for(healthy, 20), "the workers did not come back with Redis"
        await _send(url, "after")
        assert await _wait_for(lambda: _count(smtp_server, "after"), 10)
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await client.aclose()
        if server is not None:
            server.stop()
    assert len(smtp_server.messages) == 2


async def _count(smtp_server: RecordingSMTPServer, subject: str) -> bool:
    return any(m.parsed()["Subject"] == subject for m in smtp_server.messages)
