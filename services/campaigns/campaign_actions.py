"""Staff actions on a campaign being sent: pause, resume, cancel, and its failed sends.

The campaign's status is this service's to set; the ledger rows are the mailer's, so whatever
must happen to them (skip the rest, queue failures again, enqueue batches) is a mailer job.
Pausing needs no job: the mailer checks the status before it claims each chunk of mail. A
campaign the mailer stopped (too much of its mail failed) is paused here too, with a reason
(``mailer_events``), and resumes the same way as one staff paused.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.campaigns import campaign_row, effective_status, get_campaign
from services.campaigns.errors import Conflict
from services.campaigns.schemas import (
    CampaignOut,
    FailureOut,
    FailurePage,
    RetryFailedOut,
)
from shared.clock import utcnow
from shared.contracts import CancelCampaign, RetryFailed, StartCampaign
from shared.errors import QueueUnavailable
from shared.jobs import JobQueue, enqueue
from shared.queues import CANCEL_CAMPAIGN, RESUME_CAMPAIGN, RETRY_FAILED
from shared.statuses import CampaignStatus

SENDING, SENT, PAUSED = CampaignStatus.SENDING, CampaignStatus.SENT, CampaignStatus.PAUSED
CANCELLED = CampaignStatus.CANCELLED
TESTING, WAITING = CampaignStatus.TESTING, CampaignStatus.WAITING

log = structlog.get_logger(__name__)


async def pause_campaign(session: AsyncSession, campaign_id: int) -> CampaignOut:
    """Stop sending a campaign until it is resumed; 409 unless it is being sent."""
    await _require(session, campaign_id, "paused", (SENDING,))
    if not await queries.change_status(session, campaign_id, [SENDING], PAUSED, utcnow()):
        await session.rollback()
        await _require(session, campaign_id, "paused", ())  # lost a race: say to what
    await session.commit()
    log.info("campaign.paused_by_staff", campaign_id=campaign_id)
    return await get_campaign(session, campaign_id)


async def resume_campaign(session: AsyncSession, jobs: JobQueue, campaign_id: int) -> CampaignOut:
    """Go on sending a paused campaign; 409 unless it is paused.

    The resume job lets the mailer claim again (it clears a pause the mailer asked for) and
    enqueues the rows still queued.
    """
    row = await _require(session, campaign_id, "resumed", (PAUSED,))
    when = utcnow()
    if not await queries.change_status(session, campaign_id, [PAUSED], SENDING, when):
        await session.rollback()
        await _require(session, campaign_id, "resumed", ())
    await session.commit()
    payload = StartCampaign(campaign_id=campaign_id)
    try:
        await enqueue(jobs, RESUME_CAMPAIGN, payload, tag=str(int(when.timestamp() * 1000)))
    except QueueUnavailable:
        # Without its job the campaign would say sending while nothing goes out: paused again,
        # with the reason it had.
        await queries.change_status(
            session, campaign_id, [SENDING], PAUSED, when, pause_reason=row.pause_reason
        )
        await session.commit()
        raise
    log.info("campaign.resumed_by_staff", campaign_id=campaign_id)
    return await get_campaign(session, campaign_id)


async def cancel_campaign(session: AsyncSession, jobs: JobQueue, campaign_id: int) -> CampaignOut:
    """Send nothing more of a campaign; its remaining recipients are skipped. 409 when over.

    A subject test cancelled while testing or waiting for its winner never goes to the rest.
    """
    await _require(session, campaign_id, "cancelled", (SENDING, PAUSED, TESTING, WAITING))
    if not await queries.change_status(
        session, campaign_id, [SENDING, PAUSED, TESTING], CANCELLED, utcnow()
    ):
        await session.rollback()
        await _require(session, campaign_id, "cancelled", ())
    await session.commit()
    try:
        await enqueue(jobs, CANCEL_CAMPAIGN, CancelCampaign(campaign_id=campaign_id))
    except QueueUnavailable:
        # Nothing more is sent either way (the mailer checks the status before each chunk);
        # the reconciler marks the rest skipped once Redis is back.
        log.warning("campaign.cancel_job_not_queued", campaign_id=campaign_id)
    log.info("campaign.cancelled_by_staff", campaign_id=campaign_id)
    return await get_campaign(session, campaign_id)


async def list_failures(
    session: AsyncSession, campaign_id: int, page: int, per_page: int
) -> FailurePage:
    """One page of the campaign's failed sends with the address and the relay's last word."""
    await campaign_row(session, campaign_id)
    rows = await queries.failed_deliveries(session, campaign_id, per_page, (page - 1) * per_page)
    total, _latest = await queries.failed_summary(session, campaign_id)
    items = [
        FailureOut(
            delivery_id=row.id,
            email=row.email,
            attempts=row.attempts,
            last_code=row.last_code,
            last_response=row.last_response,
            updated_at=row.updated_at,
        )
        for row in rows
    ]
    return FailurePage(items=items, page=page, per_page=per_page, total=total)


async def retry_failed(session: AsyncSession, jobs: JobQueue, campaign_id: int) -> RetryFailedOut:
    """Have the mailer send the campaign's failed rows again; 409 when none failed."""
    await _require(session, campaign_id, "retried", (SENDING, SENT, PAUSED))
    failed, latest = await queries.failed_summary(session, campaign_id)
    if not failed:
        raise Conflict(f"campaign {campaign_id} has no failed sends to retry", {"failed": "0"})
    # The same failures give the same job id (a double click is one job); new ones a new id.
    stamp = int(latest.timestamp() * 1000) if latest is not None else 0
    await enqueue(jobs, RETRY_FAILED, RetryFailed(campaign_id=campaign_id), tag=f"{failed}.{stamp}")
    log.info("campaign.retry_failed_requested", campaign_id=campaign_id, failed=failed)
    return RetryFailedOut(campaign_id=campaign_id, failed=failed)


async def _require(
    session: AsyncSession, campaign_id: int, action: str, allowed: tuple[CampaignStatus, ...]
) -> queries.CampaignRow:
    """The campaign's row if its status (as staff see it) allows ``action``; else 409."""
    row = await campaign_row(session, campaign_id)
    runs = await queries.campaign_run_rows(session, [campaign_id])
    status = effective_status(row, runs.get(campaign_id))
    if status not in allowed:
        raise Conflict(
            f"campaign {campaign_id} is {status}; it cannot be {action}", {"status": status}
        )
    return row
