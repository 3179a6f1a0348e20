"""How far a campaign's sending has come, from the mailer's ledger and run and the
subscriptions service's audit log (all read only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.campaigns import campaign_row, effective_status
from services.campaigns.sending_schemas import MinuteOut, ProgressOut, VariantFiguresOut
from shared.clock import utcnow
from shared.languages import LANGUAGES
from shared.statuses import CampaignStatus, DeliveryStatus

# The estimated finish follows the rate of the last few minutes, not the whole run's.
RECENT: Final = timedelta(minutes=5)
# The chart shows at most this many minutes, the latest ones.
MAX_MINUTES: Final = 180
_OVER: Final = (CampaignStatus.SENT, CampaignStatus.CANCELLED, CampaignStatus.FAILED)


async def campaign_progress(
    session: AsyncSession, campaign_id: int, now: datetime | None = None
) -> ProgressOut:
    """Recipients and what became of them, messages per minute, rate and estimated finish."""
    now = now or utcnow()
    row = await campaign_row(session, campaign_id)
    run = (await queries.campaign_run_rows(session, [campaign_id])).get(campaign_id)
    status = effective_status(row, run)
    counts = (await queries.delivery_counts(session, [campaign_id]))[campaign_id]
    sent = counts.get(DeliveryStatus.SENT, 0)
    failed = counts.get(DeliveryStatus.FAILED, 0)
    bounced = counts.get(DeliveryStatus.BOUNCED, 0)
    skipped = counts.get(DeliveryStatus.SKIPPED, 0)
    waiting = counts.get(DeliveryStatus.QUEUED, 0) + counts.get(DeliveryStatus.SENDING, 0)
    recipients = max(run.recipients if run is not None else 0, sum(counts.values()))
    done = sent + failed + bounced + skipped
    percent = 100.0 * done / recipients if recipients else 0.0
    if status == CampaignStatus.SENT:
        percent = 100.0
    rate = 0.0
    if run is not None and status == CampaignStatus.SENDING:
        since = max(now - RECENT, run.started_at)
        minutes = max((now - since).total_seconds() / 60, 1 / 60)
        rate = await queries.sent_since(session, campaign_id, since) / minutes
    finish = None
    if rate > 0 and waiting and status not in _OVER:
        finish = now + timedelta(minutes=waiting / rate)
    return ProgressOut(
        campaign_id=campaign_id,
        status=status,
        recipients=recipients,
        sent=sent,
        failed=failed,
        bounced=bounced,
        skipped=skipped,
        waiting=waiting,
        unsubscribed=await queries.unsubscribed_by_campaign(session, campaign_id),
        percent=round(min(percent, 100.0), 1),
        per_minute=_minutes(await queries.sends_per_minute(session, campaign_id)),
        rate_per_minute=round(rate, 1),
        estimated_finish=finish,
        started_at=run.started_at if run is not None else None,
        finished_at=run.finished_at if run is not None else None,
        scheduled_at=row.scheduled_at,
        schedule_zone=row.schedule_zone,
        variants=await _variant_figures(session, campaign_id),
    )


async def _variant_figures(session: AsyncSession, campaign_id: int) -> list[VariantFiguresOut]:
    counts = await queries.delivery_counts_by_variant(session, campaign_id)
    return [
        VariantFiguresOut(
            language=code,
            sent=counts[code].get(DeliveryStatus.SENT, 0),
            failed=counts[code].get(DeliveryStatus.FAILED, 0),
            bounced=counts[code].get(DeliveryStatus.BOUNCED, 0),
        )
        for code in LANGUAGES
        if code in counts
    ]


def _minutes(counts: dict[datetime, int]) -> list[MinuteOut]:
    """Every minute from the first send to the last, quiet ones as zero (the latest few hours)."""
    if not counts:
        return []
    first, last = min(counts), max(counts)
    first = max(first, last - timedelta(minutes=MAX_MINUTES - 1))
    points = []
    minute = first
    while minute <= last:
        points.append(MinuteOut(minute=minute, sent=counts.get(minute, 0)))
        minute += timedelta(minutes=1)
    return points
