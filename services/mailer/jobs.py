"""The arq job functions: validate the payload, call the domain function, report."""

from __future__ import annotations

from typing import Any

import structlog

from services.mailer import control, delivery, fanout, reconcile, transactional
from services.mailer.errors import CampaignNotFoundError
from services.mailer.runtime import MailerRuntime
from shared.contracts import (
    CancelCampaign,
    DeliverBatch,
    OutboundMail,
    RetryFailed,
    StartCampaign,
    from_job_arg,
)

log = structlog.get_logger(__name__)


def _runtime(ctx: dict[str, Any]) -> MailerRuntime:
    runtime = ctx["mailer"]
    assert isinstance(runtime, MailerRuntime)
    return runtime


async def send_transactional(ctx: dict[str, Any], mail: dict[str, Any]) -> str:
    """Deliver one rendered transactional mail."""
    payload = from_job_arg(OutboundMail, mail)
    return await transactional.send_transactional_mail(
        _runtime(ctx), ctx["redis"], payload, ctx["job_try"]
    )


async def start_campaign(ctx: dict[str, Any], payload: dict[str, Any]) -> int:
    """Fan a campaign out into ledger rows and deliver_batch jobs."""
    campaign_id = from_job_arg(StartCampaign, payload).campaign_id
    try:
        return await fanout.start_campaign(_runtime(ctx), ctx["redis"], campaign_id)
    except CampaignNotFoundError:
        log.warning("campaign.not_found", campaign_id=campaign_id)
        return 0


async def deliver_batch(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, int]:
    """Deliver one batch of a campaign's ledger rows."""
    batch = from_job_arg(DeliverBatch, payload)
    report = await delivery.deliver_batch(_runtime(ctx), batch)
    return {"sent": report.sent, "failed": report.failed, "skipped": report.skipped}


async def reconcile_ledger(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron: re-enqueue ledger rows and campaigns whose jobs were lost."""
    report = await reconcile.reconcile(_runtime(ctx), ctx["redis"])
    return vars(report)


async def resume_campaign(ctx: dict[str, Any], payload: dict[str, Any]) -> int:
    """Resume a campaign staff paused, or the mailer paused for its failure rate."""
    campaign_id = from_job_arg(StartCampaign, payload).campaign_id
    return await control.resume_campaign(_runtime(ctx), ctx["redis"], campaign_id)


async def cancel_campaign(ctx: dict[str, Any], payload: dict[str, Any]) -> int:
    """Skip what a cancelled campaign had left to send."""
    campaign_id = from_job_arg(CancelCampaign, payload).campaign_id
    return await control.cancel_campaign(_runtime(ctx), campaign_id)


async def retry_failed(ctx: dict[str, Any], payload: dict[str, Any]) -> int:
    """Send a campaign's failed rows again."""
    campaign_id = from_job_arg(RetryFailed, payload).campaign_id
    return await control.retry_failed(_runtime(ctx), ctx["redis"], campaign_id)
