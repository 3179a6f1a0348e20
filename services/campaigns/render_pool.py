"""Worker processes for rendering staff templates, so that no template, however costly, can
stall the staff API's event loop: each call has a time limit, each worker a memory limit, and
a worker that overruns is killed and replaced."""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Final, TypeVar

import structlog

from services.campaigns.errors import InvalidInput

log = structlog.get_logger(__name__)

T = TypeVar("T")

WORKERS: Final = 2
CALL_TIMEOUT: Final = 10.0  # seconds per call (a first one starts the workers); the sandbox
# stops each render long before
MEMORY_LIMIT: Final = 1024 * 1024 * 1024  # bytes of address space per worker
_PRELOAD: Final = "services.campaigns.drafts"


def _limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class RenderPool:
    """A small process pool whose calls end in time or become InvalidInput."""

    def __init__(
        self,
        workers: int = WORKERS,
        timeout: float = CALL_TIMEOUT,
        memory_limit: int = MEMORY_LIMIT,
    ) -> None:
        self._workers = workers
        self._timeout = timeout
        self._memory_limit = memory_limit
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # Workers fork from a clean server process, not from this one with its loop,
            # connections and threads; they start on first use. The server imports the
            # template code once, so a replaced worker is ready in milliseconds.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([_PRELOAD])
            self._executor = ProcessPoolExecutor(
                self._workers,
                mp_context=context,
                initializer=_limit_memory,
                initargs=(self._memory_limit,),
            )
        return self._executor

    async def run(self, field: str, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in a worker; InvalidInput naming ``field`` when it overruns."""
        pool = self._pool()
        try:
            # Submitting starts the workers when there are none, and the first start waits for
            # the fork server to import the template code: seconds on a busy machine, which
            # must not stall every other request on the event loop.
            submitted = await asyncio.to_thread(pool.submit, function, *args)
            return await asyncio.wait_for(asyncio.wrap_future(submitted), self._timeout)
        except TimeoutError as exc:
            self._kill()
            log.warning("templates.render_timeout", field=field, seconds=self._timeout)
            raise InvalidInput(
                "a template takes too long to render",
                {field: f"takes longer than {self._timeout:g} s to render"},
            ) from exc
        except (BrokenProcessPool, MemoryError) as exc:
            self._kill()
            log.warning("templates.render_worker_died", field=field, error=repr(exc))
            raise InvalidInput(
                "a template needs too much memory to render",
                {field: "needs too much memory to render"},
            ) from exc

    def _kill(self) -> None:
        # A render that overran may still be running: end its process, start afresh next time.
        executor, self._executor = self._executor, None
        if executor is None:
            return
        for process in list(executor._processes.values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers."""
        executor, self._executor = self._executor, None
        if executor is not None:
            for process in list(executor._processes.values()):
                process.kill()
            executor.shutdown(wait=True, cancel_futures=True)
