"""The subscriptions service's arq worker: scheduled upkeep of residents' data.

Run it with ``python -m services.subscriptions.worker`` (one or more processes; the cron job
runs once per tick across all of them).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from arq.cron import cron
from arq.worker import Worker, func

from services.subscriptions.age_review import send_due_reviews
from services.subscriptions.bounces import DELIVERY_PROBLEM_JOBS
from services.subscriptions.gdpr_jobs import GDPR_JOBS
from services.subscriptions.import_jobs import IMPORT_JOBS
from services.subscriptions.outbox import Outbox
from services.subscriptions.outbox_sweep import SweepResult, sweep_outbox
from services.subscriptions.purge import PurgeResult, purge_unconfirmed
from services.subscriptions.runtime import CTX_KEY, WorkerRuntime, worker_runtime
from shared.clock import utcnow
from shared.jobs import deserialize_job, redis_settings, serialize_job
from shared.process import run_process
from shared.queues import (
    HEALTH_CHECK_KEY_SUBSCRIPTIONS,
    PURGE_UNCONFIRMED,
    SEND_AGE_REVIEWS,
    SUBSCRIPTIONS_QUEUE,
)
from shared.settings import Settings
from shared.tokens import TokenSigner
from shared.workers import keep_workers_running, run_workers

JOB_TIMEOUT = 30 * 60  # a first purge of a large backlog may take a while
PURGE_HOUR = 3  # UTC, when sign-ups are fewest
PURGE_MINUTE = 17
AGE_REVIEW_HOUR = 9  # UTC, a daytime hour for a mail to a young resident
AGE_REVIEW_MINUTE = 7
# On stop, a running purge may finish its batch; arq queues the rest again.
SHUTDOWN_GRACE = 30.0
# How often the outbox is swept: a confirmation mail Redis lost is sent again within this.
OUTBOX_SWEEP_SECONDS = 20


async def purge_unconfirmed_job(ctx: dict[str, Any]) -> dict[str, int]:
    """arq job: delete unconfirmed sign-ups older than BREVDUE_PURGE_UNCONFIRMED_AFTER_DAYS."""
    runtime = worker_runtime(ctx)
    result: PurgeResult = await purge_unconfirmed(
        runtime.sessions, older_than_days=runtime.settings.purge_unconfirmed_after_days
    )
    return {"subscriptions": result.subscriptions, "subscribers": result.subscribers}


async def sweep_outbox_job(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron job: forget the kept mails the mailer finished, replay those Redis lost."""
    runtime = worker_runtime(ctx)
    result: SweepResult = await sweep_outbox(runtime.sessions, runtime.mail_jobs, runtime.mail_jobs)
    return dataclasses.asdict(result)


async def send_age_reviews_job(ctx: dict[str, Any]) -> int:
    """arq job: ask minors who have passed the age of digital consent to confirm their own."""
    runtime = worker_runtime(ctx)
    signer = TokenSigner(runtime.settings.secret_keys)
    outbox = Outbox(runtime.mail_jobs, signer, runtime.renderer, runtime.settings)
    return await send_due_reviews(runtime.sessions, outbox, today=utcnow().date())


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """The worker with its jobs and, outside burst mode, the daily purge."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx[CTX_KEY] = await WorkerRuntime.open(settings)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if CTX_KEY in ctx:
            await worker_runtime(ctx).close()

    return Worker(
        [
            func(purge_unconfirmed_job, name=PURGE_UNCONFIRMED.name, max_tries=3),
            func(send_age_reviews_job, name=SEND_AGE_REVIEWS.name, max_tries=3),
            *GDPR_JOBS,
            *DELIVERY_PROBLEM_JOBS,  # hard bounces and complaints reported by the mailer
            *IMPORT_JOBS,  # staff imports uploaded in the staff app
        ],
        # Not in burst mode: a burst run ends when the queue is empty, a cron job never is.
        cron_jobs=[] if burst else [_daily_purge(), _daily_age_reviews(), _outbox_sweep()],
        queue_name=SUBSCRIPTIONS_QUEUE,
        health_check_key=HEALTH_CHECK_KEY_SUBSCRIPTIONS,
        redis_settings=redis_settings(settings.redis_url),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        burst=burst,
        poll_delay=0.1 if burst else 0.5,
        # Signals are handled once for the process (shared/process.py).
        handle_signals=False,
        health_check_interval=60,
        job_timeout=JOB_TIMEOUT,
        on_startup=startup,
        on_shutdown=shutdown,
    )


def _daily_purge() -> Any:
    return cron(
        purge_unconfirmed_job,
        name="subscriptions:purge-unconfirmed",
        hour={PURGE_HOUR},
        minute={PURGE_MINUTE},
        unique=True,  # several worker processes: one run per day
        timeout=JOB_TIMEOUT,
    )


def _outbox_sweep() -> Any:
    return cron(
        sweep_outbox_job,
        name="subscriptions:sweep-outbox",
        minute=None,
        second=set(range(0, 60, OUTBOX_SWEEP_SECONDS)),
        unique=True,
        timeout=OUTBOX_SWEEP_SECONDS * 10,
        run_at_startup=True,  # after an outage, at once
    )


def _daily_age_reviews() -> Any:
    return cron(
        send_age_reviews_job,
        name="subscriptions:send-age-reviews",
        hour={AGE_REVIEW_HOUR},
        minute={AGE_REVIEW_MINUTE},
        unique=True,  # several worker processes: one run per day
        timeout=JOB_TIMEOUT,
    )


async def run_worker(
    settings: Settings, *, burst: bool = False, stop: asyncio.Event | None = None
) -> None:
    """Run the worker until ``stop`` is set (or, in burst mode, until its queue is empty)."""
    if burst or stop is None:
        await run_workers([build_worker(settings, burst=burst)], stop=stop, grace=SHUTDOWN_GRACE)
        return
    await keep_workers_running(lambda: [build_worker(settings)], stop=stop, grace=SHUTDOWN_GRACE)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m services.subscriptions.worker``: run until SIGTERM or SIGINT."""
    run_process(
        "subscriptions worker",
        argv,
        _serve,
        options=lambda: None,
        description=main.__doc__,
        burst_help="exit when the queue is empty",
    )


async def _serve(settings: Settings, _options: None, stop: asyncio.Event, burst: bool) -> None:
    await run_worker(settings, burst=burst, stop=stop)


if __name__ == "__main__":
    main()
