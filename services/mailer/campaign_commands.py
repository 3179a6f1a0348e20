"""Handlers of the staff commands about a running campaign: resume, cancel, retry failed sends.

Pausing needs no command: the campaigns service sets ``campaigns.status = 'paused'`` and every
claim of a chunk checks that status in the same UPDATE, so running batches stop at their next
chunk and later ones leave their rows queued. These jobs only ever move rows the mailer owns
(the ledger, the run); the campaign's status is the campaigns service's to set.
"""

from __future__ import annotations

import structlog

from services.mailer import queries
from services.mailer.reconcile import requeue_campaign
from services.mailer.runtime import MailerRuntime
from shared.clock import utcnow
from shared.jobs import JobQueue
from shared.statuses import CampaignStatus

log = structlog.get_logger(__name__)


async def resume_campaign(runtime: MailerRuntime, jobs: JobQueue, campaign_id: int) -> int:
    """Let a resumed campaign go on and enqueue its queued rows; return the batches enqueued."""
    async with runtime.engine.begin() as conn:
        if await queries.campaign_status(conn, campaign_id) != CampaignStatus.SENDING:
            return 0  # paused again (or cancelled, or deleted) before this job ran
        # Staff resumed a campaign the failure threshold stopped: claiming may start again.
        await queries.clear_pause_request(conn, campaign_id)
        run = await queries.get_run(conn, campaign_id)
    if run is None or run.finished_at is not None:
        return 0
    # Batches that ran during the pause finished without their rows: enqueue every queued row
    # again (a row in two jobs is still sent once; the claim decides).
    now = utcnow()
    batches = await requeue_campaign(
        runtime, jobs, campaign_id, now, f"resume{now.timestamp():.0f}"
    )
    log.info("campaign.resumed", campaign_id=campaign_id, batches=batches)
    return batches


async def cancel_campaign(runtime: MailerRuntime, campaign_id: int) -> int:
    """Skip a cancelled campaign's queued rows and close its run; return the rows skipped."""
    async with runtime.engine.begin() as conn:
        if await queries.campaign_status(conn, campaign_id) != CampaignStatus.CANCELLED:
            return 0
        now = utcnow()
        skipped = await queries.skip_queued(conn, campaign_id, now, "campaign cancelled")
        run = await queries.get_run(conn, campaign_id)
        if run is not None and run.fanned_out_at is None:
            # A fan-out still running stops at its next page; this one records the end now.
            await queries.mark_fanned_out(conn, campaign_id, now)
        await queries.finish_if_done(conn, campaign_id, now)
    log.info("campaign.cancelled", campaign_id=campaign_id, skipped=skipped)
    return skipped


async def retry_failed(runtime: MailerRuntime, jobs: JobQueue, campaign_id: int) -> int:
    """Queue a campaign's failed rows again and enqueue their batches; return the rows queued."""
    now = utcnow()
    async with runtime.engine.begin() as conn:
        status = await queries.campaign_status(conn, campaign_id)
        if status is None or status == CampaignStatus.CANCELLED:
            return 0
        moved = await queries.requeue_failed(conn, campaign_id, now)
        if moved:
            await queries.reopen_run(conn, campaign_id)
    if moved:
        batches = await requeue_campaign(
            runtime, jobs, campaign_id, now, f"retry{now.timestamp():.0f}"
        )
        log.info("campaign.retry_failed", campaign_id=campaign_id, rows=moved, batches=batches)
    return moved
