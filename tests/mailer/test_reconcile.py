"""The reconciler repairs what lost jobs and dead workers leave behind, without double sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from redis.asyncio import Redis

from services.mailer import fanout
from services.mailer.reconcile import reconcile
from services.mailer.runtime import MailerRuntime
from services.mailer.worker import run_worker
from shared.db import create_engine
from shared.events import CAMPAIGN_EVENTS_STREAM, decode_campaign_paused
from shared.jobs import create_job_pool
from shared.queues import BULK_QUEUE
from shared.schema import campaign_runs, campaigns, deliveries
from shared.settings import Settings
from tests.mailer.seed import Person, fetch, ledger, seed
from tests.mailer.support import FAST, BatchCollector
from tests.support.smtp import RecordingSMTPServer

PEOPLE = [Person(f"p{n}@example.dk", f"P{n}", "da", {"kultur": "confirmed"}) for n in range(7)]


def later() -> datetime:
    """Ten minutes from now: a reconcile pass that finds what was lost minutes ago. Taken when
    called, not once at import, as a long test session would otherwise catch up with it."""
    return datetime.now(UTC) + timedelta(minutes=10)


async def _execute(database_url: str, statement: sa.Executable) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(statement)
    await engine.dispose()


async def test_jobs_lost_in_redis_are_enqueued_again(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    campaign_id, ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
    runtime = MailerRuntime.start(settings, FAST)
    pool = await create_job_pool(settings.redis_url, BULK_QUEUE)
    try:
        # Fan-out done, but its batch jobs vanished (a collector stands in for a lost Redis).
        await fanout.start_campaign(runtime, BatchCollector(), campaign_id)
        # A worker died mid-chunk: two rows were claimed long ago, one was in fact accepted.
        stuck = [ids["p0@example.dk"], ids["p1@example.dk"]]
        await _execute(
            settings.database_url,
            sa.update(deliveries)
            .where(deliveries.c.subscriber_id.in_(stuck))
            .values(
                status="sending", attempts=1, updated_at=datetime.now(UTC) - timedelta(hours=1)
            ),
        )
        report = await reconcile(runtime, pool, now=later())
        assert report.requeued_sending == 2
        assert report.batches == 3  # 7 rows in batches of 3
        again = await reconcile(runtime, pool, now=later())
        assert again.batches == 0  # its jobs are in the queue now: nothing to do
    finally:
        await pool.aclose()
        await runtime.close()
    await run_worker(settings, burst=True, options=FAST)
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(
        p.email for p in PEOPLE
    )
    rows = await ledger(settings.database_url, campaign_id)
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert rows[ids["p0@example.dk"]]["attempts"] == 2  # counted toward the retry horizon
    [run] = await fetch(settings.database_url, sa.select(campaign_runs))
    assert run["state"] == "done"


async def test_lost_start_job_is_enqueued_again(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    campaign_id, _ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
    await _execute(
        settings.database_url,
        sa.update(campaigns).values(send_requested_at=datetime.now(UTC) - timedelta(minutes=5)),
    )
    runtime = MailerRuntime.start(settings, FAST)
    pool = await create_job_pool(settings.redis_url, BULK_QUEUE)
    try:
        report = await reconcile(runtime, pool, now=later())
        assert report.starts == 1
        assert (await reconcile(runtime, pool, now=later())).starts == 0  # the job is queued
    finally:
        await pool.aclose()
        await runtime.close()
    await run_worker(settings, burst=True, options=FAST)
    assert len(smtp_server.messages) == len(PEOPLE)


async def test_pause_the_campaigns_service_never_heard_of_is_announced_again(
    settings: Settings, redis: Redis
) -> None:
    campaign_id, _ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
    runtime = MailerRuntime.start(settings, FAST)
    pool = await create_job_pool(settings.redis_url, BULK_QUEUE)
    try:
        await fanout.start_campaign(runtime, BatchCollector(), campaign_id)
        # The failure threshold asked for a pause; Redis was away when it was announced.
        requested = datetime.now(UTC)
        await _execute(
            settings.database_url,
            sa.update(campaign_runs).values(state="pause_requested", pause_requested_at=requested),
        )
        report = await reconcile(runtime, pool, now=later())
        assert report.pauses_announced == 1
        [(_entry_id, fields)] = await redis.xrange(CAMPAIGN_EVENTS_STREAM)
        event = decode_campaign_paused(fields)
        assert event.campaign_id == campaign_id
        assert event.reason.startswith("0 of 0 deliveries failed")
        assert report.batches == 0  # nothing of a campaign asked to pause is enqueued

        # Staff resumed it since (its resume job has not run yet): no pause is announced.
        await _execute(
            settings.database_url,
            sa.update(campaigns).values(updated_at=requested + timedelta(seconds=1)),
        )
        assert (await reconcile(runtime, pool, now=later())).pauses_announced == 0
        assert await redis.xlen(CAMPAIGN_EVENTS_STREAM) == 1
    finally:
        await pool.aclose()
        await runtime.close()
