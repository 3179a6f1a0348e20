"""What a subscriptions worker process holds while it runs, shared by every job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.subscriptions.i18n import load_translations
from services.subscriptions.pages import Renderer
from shared.db import create_engine, create_sessionmaker
from shared.jobs import create_job_pool
from shared.queues import TRANSACTIONAL_QUEUE
from shared.settings import Settings

# The key of the runtime in arq's ctx.
CTX_KEY = "subscriptions"


@dataclass
class WorkerRuntime:
    """Database, the mailer's queue (jobs that mail residents render here) and the renderer."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    mail_jobs: ArqRedis
    renderer: Renderer

    @classmethod
    async def open(cls, settings: Settings) -> WorkerRuntime:
        """Create the engine, the job pool and the renderer."""
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            mail_jobs=await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE),
            renderer=Renderer(load_translations()),
        )

    async def close(self) -> None:
        """Close the job pool and the database engine."""
        await self.mail_jobs.aclose()
        await self.engine.dispose()


def worker_runtime(ctx: dict[str, Any]) -> WorkerRuntime:
    """The runtime a job's ctx carries."""
    runtime = ctx[CTX_KEY]
    assert isinstance(runtime, WorkerRuntime)
    return runtime
