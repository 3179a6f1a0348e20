"""arq wiring: one process runs a transactional and a bulk worker side by side."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

from arq.cron import cron
from arq.worker import Worker

from services.mailer import jobs
from services.mailer.config import MailerOptions
from services.mailer.runtime import MailerRuntime
from shared.jobs import deserialize_job, job_function, redis_settings, serialize_job
from shared.process import run_process
from shared.queues import (
    BULK_QUEUE,
    CANCEL_CAMPAIGN,
    DELIVER_BATCH,
    HEALTH_CHECK_KEY_BULK,
    HEALTH_CHECK_KEY_TRANSACTIONAL,
    RECONCILE_LEDGER,
    RESUME_CAMPAIGN,
    RETRY_FAILED,
    SEND_TRANSACTIONAL,
    START_CAMPAIGN,
    TRANSACTIONAL_QUEUE,
)
from shared.settings import Settings
from shared.workers import keep_workers_running, run_workers


class _SharedRuntime:
    """Both workers' on_startup/on_shutdown: the first creates the runtime, the last closes it."""

    def __init__(self, settings: Settings, options: MailerOptions) -> None:
        self._settings = settings
        self._options = options
        self._runtime: MailerRuntime | None = None
        self._users = 0

    async def startup(self, ctx: dict[str, Any]) -> None:
        if self._runtime is None:
            self._runtime = MailerRuntime.start(self._settings, self._options)
            await self._runtime.open()
        self._users += 1
        ctx["mailer"] = self._runtime

    async def shutdown(self, ctx: dict[str, Any]) -> None:
        self._users -= 1
        if self._users == 0 and self._runtime is not None:
            await self._runtime.close()
            self._runtime = None


def build_workers(
    settings: Settings, options: MailerOptions, *, burst: bool
) -> tuple[Worker, Worker]:
    """The transactional and the bulk worker, sharing one runtime."""
    shared = _SharedRuntime(settings, options)
    common: dict[str, Any] = {
        "redis_settings": redis_settings(settings.redis_url),
        "job_serializer": serialize_job,
        "job_deserializer": deserialize_job,
        "burst": burst,
        # Signals are handled once for the process (shared/process.py), not by each worker.
        "handle_signals": False,
        "job_timeout": options.job_timeout,
        "poll_delay": options.burst_poll_delay if burst else options.poll_delay,
        "health_check_interval": options.health_check_interval,
        "on_startup": shared.startup,
        "on_shutdown": shared.shutdown,
    }
    transactional = Worker(
        [
            job_function(
                SEND_TRANSACTIONAL, jobs.send_transactional, max_tries=options.max_attempts + 2
            )
        ],
        queue_name=TRANSACTIONAL_QUEUE,
        health_check_key=HEALTH_CHECK_KEY_TRANSACTIONAL,
        max_jobs=options.transactional_max_jobs,
        **common,
    )
    bulk = Worker(
        [
            # A big fan-out continues over several runs (fanout_budget each).
            job_function(START_CAMPAIGN, jobs.start_campaign, max_tries=1000),
            # The ledger's attempts column is the retry horizon; arq's count also grows with
            # re-runs of slow (rate-limited) batches, so it is only a backstop here.
            job_function(DELIVER_BATCH, jobs.deliver_batch, max_tries=1000),
            job_function(RESUME_CAMPAIGN, jobs.resume_campaign, max_tries=5),
            job_function(CANCEL_CAMPAIGN, jobs.cancel_campaign, max_tries=5),
            job_function(RETRY_FAILED, jobs.retry_failed, max_tries=5),
        ],
        # Not in burst mode: a burst run ends when the queue is empty, a cron job never is.
        cron_jobs=[] if burst else [_reconciler(options)],
        queue_name=BULK_QUEUE,
        health_check_key=HEALTH_CHECK_KEY_BULK,
        max_jobs=options.bulk_max_jobs,
        **common,
    )
    return transactional, bulk


def _reconciler(options: MailerOptions) -> Any:
    every = max(1, int(options.reconcile_every_minutes))
    seconds = int(options.reconcile_every_seconds)
    # Seconds suit a small site that wants a dead worker's rows back quickly (and the fault
    # tests); minutes are the default, as every run reads the active runs and the bulk queue.
    when: dict[str, Any] = (
        {"minute": None, "second": set(range(0, 60, seconds))}
        if 0 < seconds < 60
        else {"minute": set(range(0, 60, every))}
    )
    return cron(
        jobs.reconcile_ledger,
        name=RECONCILE_LEDGER.name,
        **when,
        unique=True,  # several mailer processes: one run per tick
        timeout=options.job_timeout,
        run_at_startup=True,
    )


async def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    options: MailerOptions | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run both workers until ``stop`` is set (or, in burst mode, until both queues are empty)."""
    options = options or MailerOptions.from_env()
    if burst or stop is None:
        workers = build_workers(settings, options, burst=burst)
        await run_workers(workers, stop=stop, grace=options.shutdown_grace)
        return
    # A long-running mailer stays up through a Redis outage: see keep_workers_running.
    await keep_workers_running(
        lambda: build_workers(settings, options, burst=False),
        stop=stop,
        grace=options.shutdown_grace,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m services.mailer``: run the mailer until SIGTERM or SIGINT."""
    run_process(
        "mailer",
        argv,
        _serve,
        options=MailerOptions.from_env,
        description=main.__doc__,
        burst_help="exit when the queues are empty",
        fast_loop=True,
    )


async def _serve(
    settings: Settings, options: MailerOptions, stop: asyncio.Event, burst: bool
) -> None:
    # Everything imported so far (SQLAlchemy, Jinja, the schema) lives as long as the process:
    # out of the collector's sight, a full collection walks only what the work allocates,
    # instead of holding the loop for tens of milliseconds every few thousand messages.
    gc.freeze()
    await run_worker(settings, burst=burst, options=options, stop=stop)
