"""Running arq workers inside a process: until a stop event, then a graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from typing import Any

from arq.worker import Worker


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
        for worker in workers:
            await _close(worker)


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
    await worker.close()
