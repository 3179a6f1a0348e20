"""The /metrics endpoint of a running mailer, read over HTTP: queue depth per queue."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port
from services.mailer.worker import run_worker
from shared.contracts import StartCampaign
from shared.jobs import create_job_pool
from shared.queues import (
    BULK_QUEUE,
    SEND_TRANSACTIONAL,
    START_CAMPAIGN,
    TRANSACTIONAL_QUEUE,
)
from shared.settings import Settings
from tests.mailer.support import FAST


def _depths(text: str) -> dict[str, float]:
    depths: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("brevdue_queue_depth{"):
            labels, value = line.rsplit(" ", 1)
            depths[labels.split('queue="', 1)[1].split('"', 1)[0]] = float(value)
    return depths


async def _enqueue_later(settings: Settings, queue: str, function: str, count: int) -> None:
    # Deferred by an hour: they wait in the queue (its sorted set) without being picked.
    pool = await create_job_pool(settings.redis_url, queue)
    for n in range(count):
        await pool.enqueue_job(
            function,
            START_CAMPAIGN.encode(StartCampaign(campaign_id=9000 + n)),
            _job_id=f"later:{queue}:{n}",
            _queue_name=queue,
            _defer_by=3600,
        )
    await pool.aclose()


async def test_queue_depth_gauge_follows_the_queues(settings: Settings, redis: Redis) -> None:
    port = free_port()
    options = dataclasses.replace(
        FAST, metrics_port=port, queue_depth_interval=0.1, poll_delay=0.05
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, options=options, stop=stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            async def depths_become(expected: dict[str, float]) -> None:
                deadline = time.monotonic() + 10
                while True:
                    try:
                        response = await client.get("/metrics")
                    except httpx.TransportError:
                        response = None  # the worker is still starting
                    if response is not None:
                        assert response.status_code == 200
                        seen = _depths(response.text)
                        if all(seen.get(queue) == value for queue, value in expected.items()):
                            return
                    assert time.monotonic() < deadline, response.text if response else None
                    await asyncio.sleep(0.05)

            await depths_become({TRANSACTIONAL_QUEUE: 0, BULK_QUEUE: 0})
            await _enqueue_later(settings, BULK_QUEUE, START_CAMPAIGN.name, 3)
            await _enqueue_later(settings, TRANSACTIONAL_QUEUE, SEND_TRANSACTIONAL.name, 2)
            await depths_become({TRANSACTIONAL_QUEUE: 2, BULK_QUEUE: 3})
            await redis.delete(BULK_QUEUE)
            await depths_become({TRANSACTIONAL_QUEUE: 2, BULK_QUEUE: 0})
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)
