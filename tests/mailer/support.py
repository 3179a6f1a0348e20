"""Helpers shared by the mailer tests."""

from __future__ import annotations

from services.mailer.config import MailerOptions
from shared.contracts import StartCampaign
from shared.jobs import create_job_pool, enqueue
from shared.queues import BULK_QUEUE, START_CAMPAIGN
from shared.settings import Settings

# Small batches, chunks and fan-out windows so that a handful of subscribers exercises several
# of each; quick retries so that backoff does not slow the suite.
FAST = MailerOptions(
    batch_size=3,
    chunk_size=2,
    fanout_window=3,
    smtp_connections=3,
    transactional_connections=1,
    job_timeout=10,
    max_attempts=3,
    retry_base=0.02,
    retry_cap=0.1,
)


class BatchCollector:
    """A job queue that records deliver_batch jobs instead of enqueueing them."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.jobs: list[tuple[str, tuple[object, ...], str | None]] = []
        self.fail_after = fail_after

    async def enqueue_job(
        self,
        function: str,
        *args: object,
        _job_id: str | None = None,
        _queue_name: str | None = None,
        _expires: float | None = None,
    ) -> object:
        if self.fail_after is not None and len(self.jobs) >= self.fail_after:
            raise ConnectionError("Redis went away")
        self.jobs.append((function, args, _job_id))
        return object()


async def enqueue_start(settings: Settings, campaign_id: int, tag: str | None = None) -> None:
    """Enqueue start_campaign as the campaigns service does (with ``tag``: as the reconciler)."""
    pool = await create_job_pool(settings.redis_url, BULK_QUEUE)
    await enqueue(pool, START_CAMPAIGN, StartCampaign(campaign_id=campaign_id), tag=tag)
    await pool.aclose()
