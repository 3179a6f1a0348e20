"""Running arq workers inside a process: until a stop event, then a graceful stop; and again,
built afresh, after Redis went away and came back."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from typing import Any

import redis.exceptions
import structlog
from arq.worker import Worker

log = structlog.get_logger(__name__)

# What a worker's Redis calls raise when the server is gone, restarting or unreachable.
REDIS_LOST: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


async def run_workers(
    workers: Sequence[Worker], *, stop: asyncio.Event | None, grace: float
) -> None:
    """Run ``workers`` until ``stop`` is set (or, in burst mode, until their queues are empty).

    On stop they pick no new jobs, running ones get ``grace`` seconds, then the rest are
    cancelled (arq queues them again). The workers must not handle signals themselves.
    """
    running = asyncio.gather(*(worker.async_run() for worker in workers))
    try:
        if stop is None:
            await running
            return
        stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        waiting: list[asyncio.Future[Any]] = [running, stopping]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if running.done():
            running.result()  # a worker that ended on its own: surface its error
        else:
            await _stop_gracefully(workers, running, grace)
    finally:
        # A worker that ended with an error (its Redis went away) leaves the others running:
        # they stop too, and all are built again together.
        mains = [worker.main_task for worker in workers if worker.main_task is not None]
        for task in mains:
            if not task.done():
                task.cancel()
        await asyncio.gather(*mains, return_exceptions=True)
        for worker in workers:
            await _close(worker)


async def keep_workers_running(
    build: Callable[[], Sequence[Worker]],
    *,
    stop: asyncio.Event,
    grace: float,
    first_wait: float = 0.5,
    longest_wait: float = 10.0,
) -> None:
    """Run the workers ``build`` makes until ``stop`` is set, riding out Redis outages.

    arq ends a worker whose Redis connection breaks. Exiting the process with it would leave
    the chunks it was sending without their outcomes, and the reconciler would send them a
    second time; here the jobs in progress finish (their outcomes are written to the
    database, which does not need Redis), the workers are closed, and new ones are built once
    Redis answers again, waiting a little longer after each failed attempt.
    """
    wait = first_wait
    while not stop.is_set():
        workers = build()
        try:
            await run_workers(workers, stop=stop, grace=grace)
            return
        except REDIS_LOST as exc:
            log.warning("workers.redis_unreachable", error=type(exc).__name__, retry_in=wait)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        wait = min(wait * 2, longest_wait)


async def _stop_gracefully(
    workers: Sequence[Worker], running: asyncio.Future[Any], grace: float
) -> None:
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
    try:
        await worker.close()
    except REDIS_LOST:
        # close() stops at its first Redis call (removing its health record) when Redis is
        # away; what it would have done after that still has to happen.
        if worker.on_shutdown is not None:
            await worker.on_shutdown(worker.ctx)
        with contextlib.suppress(*REDIS_LOST):
            await worker.pool.aclose()
        worker._pool = None
