"""The long-running worker: health-check keys, both queues served, graceful stop."""

from __future__ import annotations

import asyncio
import dataclasses

from redis.asyncio import Redis

from services.mailer.worker import run_worker
from shared.contracts import OutboundMail, to_job_arg
from shared.jobs import create_job_pool
from shared.queues import (
    HEALTH_CHECK_KEY_BULK,
    HEALTH_CHECK_KEY_TRANSACTIONAL,
    JOB_SEND_TRANSACTIONAL,
    TRANSACTIONAL_QUEUE,
)
from shared.settings import Settings
from tests.mailer.support import FAST
from tests.support.smtp import RecordingSMTPServer


async def test_worker_runs_until_stopped(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    stop = asyncio.Event()
    options = dataclasses.replace(FAST, poll_delay=0.05)
    task = asyncio.create_task(run_worker(settings, options=options, stop=stop))
    pool = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    await pool.enqueue_job(
        JOB_SEND_TRANSACTIONAL,
        to_job_arg(
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
    stop.set()
    await asyncio.wait_for(task, 10)
    assert await redis.exists(HEALTH_CHECK_KEY_TRANSACTIONAL, HEALTH_CHECK_KEY_BULK) == 0
