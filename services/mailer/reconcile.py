"""The reconciler: the ledger is the truth, Redis only a work list that can be lost.

Runs every minute in the bulk worker (arq cron, unique across processes). It

* returns rows stuck in 'sending' longer than a job can live (the worker died mid-chunk) to
  'queued' — at-least-once: such a row may already have been accepted by the relay;
* re-enqueues the queued rows of a fanned-out campaign that has no job left in the bulk queue
  (Redis lost them, or arq gave up on a job), under fresh job ids;
* re-enqueues start_campaign for a campaign whose fan-out or start job vanished;
* marks runs done whose last batch died before it could;
* publishes again the pauses the failure threshold asked for that the campaigns service has not
  applied yet (the event was lost, or that service is still catching up).

A campaign that still has any job in the bulk queue (queued, deferred for a retry, or running)
is left alone: its jobs will pick its rows up. A fanned-out campaign with queued rows and no
job is an orphan whatever the rows' age: fan-out enqueues every row before it records its end,
and a deferred or cancelled job stays in the queue. Enqueueing a row twice is harmless anyway:
only the job whose claim moves it to 'sending' sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from services.mailer import queries
from services.mailer.auto_pause import announce_unseen_pauses
from services.mailer.fanout import enqueue_batches
from services.mailer.resident_events import announce_sent
from services.mailer.runtime import MailerRuntime
from shared.clock import utcnow
from shared.contracts import StartCampaign
from shared.job_spec import parse_job_id
from shared.jobs import JobQueue, enqueue
from shared.queues import BULK_QUEUE, CAMPAIGN_JOBS, START_CAMPAIGN

log = structlog.get_logger(__name__)

# A start job may wait behind other jobs in the queue for a while before it creates its run.
START_GRACE = timedelta(minutes=2)


class QueueInspector(JobQueue, Protocol):
    """What the reconciler needs from Redis: enqueue, and the bulk queue's job ids."""

    async def zrange(self, name: str, start: int, end: int) -> list[bytes]:
        """Members of a sorted set."""


@dataclass
class ReconcileReport:
    """What one reconciliation did."""

    requeued_sending: int = 0
    batches: int = 0
    starts: int = 0
    finished: int = 0
    pauses_announced: int = 0


async def campaigns_with_jobs(redis: QueueInspector) -> set[int]:
    """Campaign ids with at least one job in the bulk queue (queued, deferred or running)."""
    live: set[int] = set()
    for member in await redis.zrange(BULK_QUEUE, 0, -1):
        parsed = parse_job_id(member.decode(), CAMPAIGN_JOBS)
        campaign_id = parsed.fields["campaign_id"] if parsed is not None else ""
        if campaign_id.isdigit():
            live.add(int(campaign_id))
    return live


async def reconcile(
    runtime: MailerRuntime, redis: QueueInspector, now: datetime | None = None
) -> ReconcileReport:
    """Repair what a lost job or a dead worker left behind."""
    now = now or utcnow()
    report = ReconcileReport()
    # A live job settles or releases its claims before the job timeout cancels it; claims
    # younger than a job's life plus the grace are never touched, their job may still run.
    life = runtime.options.job_timeout + 10 + runtime.options.reconcile_grace
    stuck_before = now - timedelta(seconds=life)
    async with runtime.engine.begin() as conn:
        report.requeued_sending = await queries.requeue_stuck_sending(conn, stuck_before, now)
        runs = await queries.active_runs(conn)
        unstarted = await queries.unstarted_campaigns(conn, now - START_GRACE)
    live = await campaigns_with_jobs(redis)
    # Fresh ids: the lost jobs' ids may still be known to arq (a result kept, say).
    tag = f"r{int(now.timestamp()) // 60}"
    restart = [c for c in unstarted if c not in live]
    restart += [
        run.campaign_id
        for run in runs
        if not run.fanned_out
        and run.campaign_id not in live
        and _aware(run.started_at) < now - START_GRACE
    ]
    for campaign_id in restart:
        await enqueue(redis, START_CAMPAIGN, StartCampaign(campaign_id=campaign_id), tag=tag)
        report.starts += 1
    for run in runs:
        if run.fanned_out and run.campaign_id not in live:
            report.batches += await requeue_campaign(runtime, redis, run.campaign_id, now, tag)
            async with runtime.engine.begin() as conn:
                finished = await queries.finish_if_done(conn, run.campaign_id, now)
            if finished:
                report.finished += 1
                await announce_sent(runtime.events, runtime.engine, run.campaign_id)
    report.pauses_announced = await announce_unseen_pauses(runtime)
    if report.requeued_sending or report.batches or report.starts:
        log.warning("reconcile.repaired", **vars(report))
    return report


async def requeue_campaign(
    runtime: MailerRuntime, jobs: JobQueue, campaign_id: int, now: datetime, tag: str
) -> int:
    """Enqueue every queued row of a campaign again, in batches tagged ``tag``; count them.

    Read a fan-out window's worth of rows at a time and enqueued in one pipeline each: a
    resumed campaign of a million rows is 50 reads and 50 round trips to Redis, not 2,000.
    """
    options = runtime.options
    page = max(options.batch_size, options.fanout_window)
    batches, after = 0, 0
    while True:
        async with runtime.engine.begin() as conn:
            ids = await queries.queued_page(conn, campaign_id, after, page)
        if not ids:
            return batches
        batches += await enqueue_batches(jobs, campaign_id, ids, options.batch_size, tag=tag)
        after = ids[-1]


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back without a zone; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
