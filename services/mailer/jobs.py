"""The arq job handlers: take the validated payload, call the domain function, report."""

from __future__ import annotations

from typing import Any

import structlog

from services.mailer import campaign_commands, campaign_delivery, fanout, reconcile, transactional
from services.mailer.errors import CampaignNotFoundError
from services.mailer.runtime import MailerRuntime
from shared.contracts import (
    BatchResult,
    CancelCampaign,
    DeliverBatch,
    OutboundMail,
    RetryFailed,
    StartCampaign,
)

log = structlog.get_logger(__name__)


def _runtime(ctx: dict[str, Any]) -> MailerRuntime:
    runtime = ctx["mailer"]
    assert isinstance(runtime, MailerRuntime)
    return runtime


async def send_transactional(ctx: dict[str, Any], mail: OutboundMail) -> str:
    """Deliver one rendered transactional mail."""
    return await transactional.send_transactional_mail(
        _runtime(ctx), ctx["redis"], mail, ctx["job_try"]
    )


async def start_campaign(ctx: dict[str, Any], payload: StartCampaign) -> int:
    """Fan a campaign out into ledger rows and deliver_batch jobs."""
    try:
        return await fanout.start_campaign(_runtime(ctx), ctx["redis"], payload.campaign_id)
    except CampaignNotFoundError:
        log.warning("campaign.not_found", campaign_id=payload.campaign_id)
        return 0


async def deliver_batch(ctx: dict[str, Any], batch: DeliverBatch) -> BatchResult:
    """Deliver one batch of a campaign's ledger rows."""
    report = await campaign_delivery.deliver_batch(_runtime(ctx), batch)
    return BatchResult(sent=report.sent, failed=report.failed, skipped=report.skipped)


async def reconcile_ledger(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron: re-enqueue ledger rows and campaigns whose jobs were lost."""
    report = await reconcile.reconcile(_runtime(ctx), ctx["redis"])
    return vars(report)


async def resume_campaign(ctx: dict[str, Any], payload: StartCampaign) -> int:
    """Go on sending a campaign staff resumed (however it came to be paused)."""
    return await campaign_commands.resume_campaign(_runtime(ctx), ctx["redis"], payload.campaign_id)


async def cancel_campaign(ctx: dict[str, Any], payload: CancelCampaign) -> int:
    """Skip what a cancelled campaign had left to send."""
    return await campaign_commands.cancel_campaign(_runtime(ctx), payload.campaign_id)


async def retry_failed(ctx: dict[str, Any], payload: RetryFailed) -> int:
    """Send a campaign's failed rows again."""
    return await campaign_commands.retry_failed(_runtime(ctx), ctx["redis"], payload.campaign_id)
