"""The long-running worker: health-check keys, both queues served, graceful stop."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys

import httpx
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port
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
from tests.conftest import TEST_SECRET
from tests.mailer.support import FAST
from tests.support.smtp import RecordingSMTPServer


async def test_worker_runs_until_stopped(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    stop = asyncio.Event()
    metrics_port = free_port()
    options = dataclasses.replace(FAST, poll_delay=0.05, metrics_port=metrics_port)
    task = asyncio.create_task(run_worker(settings, options=options, stop=stop))
    pool = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    await pool.enqueue_job(
        SEND_TRANSACTIONAL.name,
        SEND_TRANSACTIONAL.encode(
            OutboundMail(message_key="w", category="test", to="a@b.dk", subject="s", text="t")
        ),
        _queue_name=TRANSACTIONAL_QUEUE,
    )
    await pool.aclose()
    for _ in range(200):
        if smtp_server.messages:
            break
        await asyncio.sleep(0.02)
    assert len(smtp_server.messages) == 1
    assert await redis.exists(HEALTH_CHECK_KEY_TRANSACTIONAL, HEALTH_CHECK_KEY_BULK) == 2
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    relay = f'relay="127.0.0.1:{smtp_server.port}",stream="transactional"'
    assert f"brevdue_mail_sent_total{{{relay}}} 1.0" in metrics
    assert f"brevdue_smtp_send_seconds_count{{{relay}}} 1.0" in metrics
    stop.set()
    await asyncio.wait_for(task, 10)
    assert await redis.exists(HEALTH_CHECK_KEY_TRANSACTIONAL, HEALTH_CHECK_KEY_BULK) == 0


async def test_sigterm_stops_the_process_cleanly(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    env = {
        **os.environ,
        "BREVDUE_DATABASE_URL": settings.database_url,
        "BREVDUE_REDIS_URL": settings.redis_url,
        "BREVDUE_SMTP_URL": f"smtp://127.0.0.1:{smtp_server.port}?starttls=off",
        "BREVDUE_SECRET_KEYS": TEST_SECRET.reveal(),
        "BREVDUE_LOG_LEVEL": "WARNING",
        "BREVDUE_MAILER_POLL_DELAY": "0.05",
    }
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.mailer", env=env)
    try:
        # Up to 30 s to start: a loaded CI machine has taken more than 10 s to import and connect.
        for _ in range(1500):
            if await redis.exists(HEALTH_CHECK_KEY_TRANSACTIONAL, HEALTH_CHECK_KEY_BULK) == 2:
                break
            await asyncio.sleep(0.02)
        assert await redis.exists(HEALTH_CHECK_KEY_TRANSACTIONAL, HEALTH_CHECK_KEY_BULK) == 2
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert await redis.exists(HEALTH_CHECK_KEY_TRANSACTIONAL, HEALTH_CHECK_KEY_BULK) == 0
