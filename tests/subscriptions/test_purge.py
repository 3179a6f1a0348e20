"""The subscriptions worker purges sign-ups nobody confirmed, once they are old enough."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
import time_machine
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions import worker
from services.subscriptions.purge import purge_unconfirmed
from shared.db import create_sessionmaker
from shared.jobs import create_job_pool
from shared.queues import PURGE_UNCONFIRMED, SUBSCRIPTIONS_QUEUE
from shared.schema import consent_events, subscribers, subscriptions
from shared.settings import Settings
from tests.conftest import TEST_SECRET
from tests.subscriptions.conftest import subscribe_json


async def _state(engine: AsyncEngine) -> dict[str, dict[int, str]]:
    """Each remaining subscriber's subscriptions: email -> {list id: status}."""
    query = sa.select(
        subscribers.c.email, subscriptions.c.list_id, subscriptions.c.status
    ).select_from(
        subscribers.outerjoin(subscriptions, subscriptions.c.subscriber_id == subscribers.c.id)
    )
    state: dict[str, dict[int, str]] = {}
    async with engine.connect() as conn:
        for email, list_id, status in await conn.execute(query):
            state.setdefault(email, {})
            if list_id is not None:
                state[email][int(list_id)] = status
    return state


async def _set(engine: AsyncEngine, email: str, list_id: int, status: str) -> None:
    ids = sa.select(subscribers.c.id).where(subscribers.c.email == email)
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.subscriber_id.in_(ids), subscriptions.c.list_id == list_id)
            .values(status=status)
        )


async def test_worker_purges_old_unconfirmed_sign_ups_only(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    settings: Settings,
) -> None:
    kultur, musik = lists["kultur"], lists["musik"]
    await subscribe_json(client, email="pending@example.org")
    await subscribe_json(client, email="mixed@example.org", lists=["kultur", "musik"])
    await _set(engine, "mixed@example.org", kultur, "confirmed")
    await subscribe_json(client, email="left@example.org")
    await _set(engine, "left@example.org", kultur, "unsubscribed")

    with time_machine.travel(datetime.now(UTC) + timedelta(days=31), tick=True):
        # Signed up "now", 31 days on: too young to purge.
        await subscribe_json(client, email="recent@example.org")
        pool = await create_job_pool(settings.redis_url, SUBSCRIPTIONS_QUEUE)
        try:
            job = await pool.enqueue_job(PURGE_UNCONFIRMED.name)
            assert job is not None
            await worker.run_worker(settings, burst=True)
            result = await job.result(timeout=5)
        finally:
            await pool.aclose()

    assert result == {"subscriptions": 2, "subscribers": 1}
    assert await _state(engine) == {
        "mixed@example.org": {kultur: "confirmed"},
        "left@example.org": {kultur: "unsubscribed"},
        "recent@example.org": {kultur: "pending"},
    }
    async with engine.connect() as conn:
        subscriber_ids = {
            row.subscriber_id
            for row in await conn.execute(sa.select(consent_events.c.subscriber_id))
        }
        remaining = set((await conn.execute(sa.select(subscribers.c.id))).scalars())
    assert subscriber_ids <= remaining  # the purged person's consent records went too
    assert musik not in (await _state(engine))["mixed@example.org"]


async def test_nothing_is_purged_before_the_configured_age(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    settings: Settings,
) -> None:
    await subscribe_json(client, email="pending@example.org")
    sessionmaker = create_sessionmaker(engine)

    later = datetime.now(UTC) + timedelta(days=29)
    assert (await purge_unconfirmed(sessionmaker, older_than_days=30, now=later)).subscribers == 0
    result = await purge_unconfirmed(sessionmaker, older_than_days=7, now=later)
    assert (result.subscriptions, result.subscribers) == (1, 1)
    assert await _state(engine) == {}


async def test_purge_works_in_batches(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
) -> None:
    for number in range(5):
        await subscribe_json(client, email=f"p{number}@example.org", lists=["kultur", "born"])

    result = await purge_unconfirmed(
        create_sessionmaker(engine),
        older_than_days=30,
        now=datetime.now(UTC) + timedelta(days=31),
        batch_size=2,
    )

    assert (result.subscriptions, result.subscribers, result.batches) == (10, 5, 3)
    assert await _state(engine) == {}


async def test_a_sign_up_in_the_meantime_keeps_the_subscriber(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await subscribe_json(client, email="back@example.org", lists=["kultur"])
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31), tick=True):
        # The old request for kultur is stale; today's for musik is not.
        await subscribe_json(client, email="back@example.org", lists=["musik"])
        result = await purge_unconfirmed(create_sessionmaker(engine), older_than_days=30)

    assert (result.subscriptions, result.subscribers) == (1, 0)
    assert await _state(engine) == {"back@example.org": {lists["musik"]: "pending"}}


def test_cron_runs_the_purge_daily_once_across_workers(settings: Settings) -> None:
    built = worker.build_worker(settings)
    jobs = {job.name: job for job in built.cron_jobs}
    job = jobs["subscriptions:purge-unconfirmed"]
    review = jobs["subscriptions:send-age-reviews"]
    assert job.unique is True
    assert (job.hour, job.minute) == ({worker.PURGE_HOUR}, {worker.PURGE_MINUTE})
    # The age review of youth lists runs daily too, once across workers.
    assert review.name == "subscriptions:send-age-reviews"
    assert review.unique is True
    assert (review.hour, review.minute) == ({worker.AGE_REVIEW_HOUR}, {worker.AGE_REVIEW_MINUTE})
    assert worker.build_worker(settings, burst=True).cron_jobs == []


def test_worker_command_runs_in_burst_mode(settings: Settings) -> None:
    env = {
        **os.environ,
        "BREVDUE_DATABASE_URL": settings.database_url,
        "BREVDUE_REDIS_URL": settings.redis_url,
        "BREVDUE_SECRET_KEYS": TEST_SECRET.reveal(),
        "BREVDUE_LOG_FORMAT": "json",
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.subscriptions.worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "services.subscriptions.worker"],
        env={**env, "BREVDUE_PURGE_UNCONFIRMED_AFTER_DAYS": "never"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "BREVDUE_PURGE_UNCONFIRMED_AFTER_DAYS" in bad.stderr
