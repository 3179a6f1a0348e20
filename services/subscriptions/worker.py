"""The subscriptions service's arq worker: scheduled upkeep of residents' data.

Run it with ``python -m services.subscriptions.worker`` (one or more processes; the cron job
runs once per tick across all of them).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from arq.cron import cron
from arq.worker import Worker, func

from services.subscriptions.delivery_problems import DELIVERY_PROBLEM_JOBS
from services.subscriptions.gdpr_jobs import GDPR_JOBS
from services.subscriptions.purge import PurgeResult, purge_unconfirmed
from shared.db import create_engine, create_sessionmaker
from shared.errors import SettingsError
from shared.jobs import create_job_pool, deserialize_job, redis_settings, serialize_job
from shared.logging import configure_logging
from shared.queues import (
    HEALTH_CHECK_KEY_SUBSCRIPTIONS,
    JOB_PURGE_UNCONFIRMED,
    SUBSCRIPTIONS_QUEUE,
    TRANSACTIONAL_QUEUE,
)
from shared.settings import Settings

JOB_TIMEOUT = 30 * 60  # a first purge of a large backlog may take a while
PURGE_HOUR = 3  # UTC, when sign-ups are fewest
PURGE_MINUTE = 17


async def purge_unconfirmed_job(ctx: dict[str, Any]) -> dict[str, int]:
    """arq job: delete unconfirmed sign-ups older than BREVDUE_PURGE_UNCONFIRMED_AFTER_DAYS."""
    settings: Settings = ctx["settings"]
    result: PurgeResult = await purge_unconfirmed(
        ctx["sessionmaker"], older_than_days=settings.purge_unconfirmed_after_days
    )
    return {"subscriptions": result.subscriptions, "subscribers": result.subscribers}


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """The worker with its jobs and, outside burst mode, the daily purge."""

    async def startup(ctx: dict[str, Any]) -> None:
        engine = create_engine(settings.database_url)
        ctx["settings"] = settings
        ctx["engine"] = engine
        ctx["sessionmaker"] = create_sessionmaker(engine)
        # For jobs that mail residents (rendered here, delivered by the mailer).
        ctx["jobs"] = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "jobs" in ctx:
            await ctx["jobs"].aclose()
        if "engine" in ctx:
            await ctx["engine"].dispose()

    return Worker(
        [
            func(purge_unconfirmed_job, name=JOB_PURGE_UNCONFIRMED, max_tries=3),
            *GDPR_JOBS,
            *DELIVERY_PROBLEM_JOBS,  # hard bounces and complaints reported by the mailer
        ],
        # Not in burst mode: a burst run ends when the queue is empty, a cron job never is.
        cron_jobs=[] if burst else [_daily_purge()],
        queue_name=SUBSCRIPTIONS_QUEUE,
        health_check_key=HEALTH_CHECK_KEY_SUBSCRIPTIONS,
        redis_settings=redis_settings(settings.redis_url),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        burst=burst,
        poll_delay=0.1 if burst else 0.5,
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


async def run_worker(
    settings: Settings, *, burst: bool = False, stop: asyncio.Event | None = None
) -> None:
    """Run the worker until ``stop`` is set (or, in burst mode, until its queue is empty)."""
    worker = build_worker(settings, burst=burst)
    running = asyncio.ensure_future(worker.async_run())
    try:
        if stop is None:
            await running
            return
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if running.done():
            running.result()  # ended on its own: surface its error
            return
        # Stop picking jobs and let a running purge finish its batch; arq re-queues the rest.
        worker.allow_pick_jobs = False
        if worker.tasks:
            await asyncio.wait(list(worker.tasks.values()), timeout=30)
        worker.handle_sig(signal.SIGTERM)
        await asyncio.gather(running, return_exceptions=True)
    finally:
        tasks = list(worker.tasks.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        worker.tasks.clear()
        await worker.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m services.subscriptions.worker``: run until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="brevdue-subscriptions-worker", description=main.__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"brevdue subscriptions worker: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(settings)
    asyncio.run(_main(settings, burst=args.burst))


async def _main(settings: Settings, *, burst: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, burst=burst, stop=stop)


if __name__ == "__main__":
    main()
