"""arq wiring: one process runs a transactional and a bulk worker side by side."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from arq.cron import cron
from arq.worker import Worker, func

from services.mailer import jobs
from services.mailer.config import MailerOptions
from services.mailer.runtime import MailerRuntime
from shared.errors import SettingsError
from shared.jobs import deserialize_job, redis_settings, serialize_job
from shared.logging import configure_logging
from shared.queues import (
    BULK_QUEUE,
    HEALTH_CHECK_KEY_BULK,
    HEALTH_CHECK_KEY_TRANSACTIONAL,
    JOB_CANCEL_CAMPAIGN,
    JOB_DELIVER_BATCH,
    JOB_RESUME_CAMPAIGN,
    JOB_RETRY_FAILED,
    JOB_SEND_TRANSACTIONAL,
    JOB_START_CAMPAIGN,
    TRANSACTIONAL_QUEUE,
)
from shared.settings import Settings


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
        # Signals are handled once for both workers in run_worker, not by each.
        "handle_signals": False,
        "job_timeout": options.job_timeout,
        "poll_delay": options.burst_poll_delay if burst else options.poll_delay,
        "health_check_interval": options.health_check_interval,
        "on_startup": shared.startup,
        "on_shutdown": shared.shutdown,
    }
    transactional = Worker(
        [
            func(
                jobs.send_transactional,
                name=JOB_SEND_TRANSACTIONAL,
                max_tries=options.max_attempts + 2,
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
            func(jobs.start_campaign, name=JOB_START_CAMPAIGN, max_tries=1000),
            # The ledger's attempts column is the retry horizon; arq's count also grows with
            # re-runs of slow (rate-limited) batches, so it is only a backstop here.
            func(jobs.deliver_batch, name=JOB_DELIVER_BATCH, max_tries=1000),
            func(jobs.resume_campaign, name=JOB_RESUME_CAMPAIGN, max_tries=5),
            func(jobs.cancel_campaign, name=JOB_CANCEL_CAMPAIGN, max_tries=5),
            func(jobs.retry_failed, name=JOB_RETRY_FAILED, max_tries=5),
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
    return cron(
        jobs.reconcile_ledger,
        name="mailer:reconcile",
        minute=set(range(0, 60, every)),
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
    workers = build_workers(settings, options, burst=burst)
    running = asyncio.gather(*(worker.async_run() for worker in workers))
    try:
        if stop is None:
            await running
        else:
            stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
            waiting: list[asyncio.Future[Any]] = [running, stopping]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if running.done():
                running.result()  # a worker that ended on its own: surface its error
            else:
                await _stop_gracefully(workers, running, options.shutdown_grace)
    finally:
        for worker in workers:
            await _close(worker)


async def _stop_gracefully(
    workers: tuple[Worker, ...], running: asyncio.Future[Any], grace: float
) -> None:
    # Stop picking jobs, give the running ones time to finish, then cancel (arq re-queues them).
    for worker in workers:
        worker.allow_pick_jobs = False
    tasks = [task for worker in workers for task in worker.tasks.values()]
    if tasks:
        await asyncio.wait(tasks, timeout=grace)
    for worker in workers:
        worker.handle_sig(signal.SIGTERM)
    with contextlib.suppress(asyncio.CancelledError):
        await running


async def _close(worker: Worker) -> None:
    # Worker.close() gathers its job tasks; cancelled ones would raise out of it.
    tasks = list(worker.tasks.values())
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    worker.tasks.clear()
    await worker.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m services.mailer``: run the mailer until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="brevdue-mailer", description=main.__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        options = MailerOptions.from_env()
    except SettingsError as exc:
        print(f"brevdue mailer: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(settings)
    try:
        import uvloop  # a faster event loop where available (Linux, macOS)
    except ImportError:
        asyncio.run(_main(settings, options, burst=args.burst))
    else:
        uvloop.run(_main(settings, options, burst=args.burst))


async def _main(settings: Settings, options: MailerOptions, *, burst: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, burst=burst, options=options, stop=stop)
