"""The overview: campaigns under way, the last results, and confirmed sign-ups over 30 days."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.dashboard_schemas import (
    ActiveCampaignOut,
    DashboardOut,
    DeliveryFigures,
    ListSignups,
    RecentCampaignOut,
    SiteSignups,
)
from services.campaigns.schemas import DayCount, Names, StatusCounts
from shared.clock import utcnow
from shared.statuses import CampaignStatus, DeliveryStatus, RunState, SubscriptionStatus

DAYS: Final = 30
RECENT: Final = 5
ACTIVE_MAX: Final = 50
# Scheduling adds this status; matched by value, the overview lists scheduled campaigns as soon
# as they exist, and any other status it does not know is shown as stored.
SCHEDULED: Final = "scheduled"
UNDER_WAY: Final = (
    CampaignStatus.SENDING,
    CampaignStatus.TESTING,
    CampaignStatus.PAUSED,
    SCHEDULED,
)
# Sending campaigns whose run finished are sent (campaigns.effective_status).
FINISHED: Final = (CampaignStatus.SENDING, CampaignStatus.SENT)
# Ledger rows still waiting for their turn; every other row is done, whatever its outcome.
_WAITING: Final = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


async def get_dashboard(session: AsyncSession) -> DashboardOut:
    """Everything the overview shows, read in a handful of grouped queries."""
    first = utcnow().date() - timedelta(days=DAYS - 1)
    since = datetime.combine(first, time(), tzinfo=UTC)
    return DashboardOut(
        active=await active_campaigns(session),
        recent=await recent_results(session),
        since=first,
        days=await signups_per_day(session, first),
        sites=await signups_per_site(session, since),
        lists=await signups_per_list(session, since),
    )


async def active_campaigns(session: AsyncSession) -> list[ActiveCampaignOut]:
    """Campaigns sending, paused or scheduled; those whose run ended are left out."""
    rows = await queries.campaigns_in_status(session, UNDER_WAY, ACTIVE_MAX)
    ids = [row.id for row in rows]
    counts = await queries.delivery_counts(session, ids) if ids else {}
    runs = await queries.campaign_run_rows(session, ids) if ids else {}
    active = []
    for row in rows:
        run = runs.get(row.id)
        if run is not None and (run.finished_at is not None or run.state == RunState.FAILED):
            continue
        figures = figures_of(counts.get(row.id, {}), run.recipients if run else 0)
        active.append(
            ActiveCampaignOut(
                id=row.id,
                subject=row.subject,
                status=row.status,
                send_requested_at=row.send_requested_at,
                updated_at=row.updated_at,
                counts=figures,
                progress=progress(counts.get(row.id, {}), figures.recipients) if run else None,
            )
        )
    return active


async def recent_results(session: AsyncSession) -> list[RecentCampaignOut]:
    """The last five campaigns the mailer finished, with their delivery figures."""
    rows = await queries.finished_campaigns(session, FINISHED, RECENT)
    counts = await queries.delivery_counts(session, [row.id for row in rows]) if rows else {}
    return [
        RecentCampaignOut(
            id=row.id,
            subject=row.subject,
            finished_at=row.finished_at,
            counts=figures_of(counts.get(row.id, {}), row.recipients),
        )
        for row in rows
    ]


def figures_of(by_status: Mapping[str, int], recipients: int) -> DeliveryFigures:
    """Delivery figures from ledger rows counted by status."""
    return DeliveryFigures(
        recipients=recipients,
        sent=by_status.get(DeliveryStatus.SENT, 0),
        failed=by_status.get(DeliveryStatus.FAILED, 0),
        bounced=by_status.get(DeliveryStatus.BOUNCED, 0),
        queued=by_status.get(DeliveryStatus.QUEUED, 0),
    )


def progress(by_status: Mapping[str, int], recipients: int) -> float:
    """Percent of the recipients whose copy is done (sent, failed, bounced or skipped)."""
    if recipients <= 0:
        return 0.0
    done = sum(n for status, n in by_status.items() if status not in _WAITING)
    return round(min(100.0, 100.0 * done / recipients), 1)


async def signups_per_day(session: AsyncSession, first: date) -> list[DayCount]:
    """Residents confirming a subscription on each UTC day from ``first`` to today."""
    since = datetime.combine(first, time(), tzinfo=UTC)
    per_day = await queries.confirmed_per_day(session, since)
    days = [first + timedelta(days=offset) for offset in range(DAYS)]
    return [DayCount(date=day, signups=per_day.get(day, 0)) for day in days]


async def signups_per_site(session: AsyncSession, since: datetime) -> list[SiteSignups]:
    """Every member site with its residents confirming since ``since``, then those without one."""
    counts = await queries.confirmed_per_site(session, since)
    items = [
        SiteSignups(key=site.key, name=site.name, signups=counts.get(site.id, 0))
        for site in await queries.all_sites(session)
    ]
    if counts.get(None):
        items.append(SiteSignups(key=None, name=None, signups=counts[None]))
    return items


async def signups_per_list(session: AsyncSession, since: datetime) -> list[ListSignups]:
    """Every list with its subscriptions confirmed since ``since``."""
    counts = await queries.confirmed_per_list(session, since)
    return [
        ListSignups(
            slug=row.slug,
            names=Names(da=row.name_da, sv=row.name_sv, en=row.name_en),
            signups=counts.get(row.id, 0),
        )
        for row in await queries.all_lists(session)
    ]


async def site_totals(session: AsyncSession) -> dict[int, StatusCounts]:
    """Subscriptions that came in through each member site, by status, keyed by site id."""
    return {
        site_id: StatusCounts(
            pending=counts.get(SubscriptionStatus.PENDING, 0),
            confirmed=counts.get(SubscriptionStatus.CONFIRMED, 0),
            unsubscribed=counts.get(SubscriptionStatus.UNSUBSCRIBED, 0),
        )
        for site_id, counts in (await queries.subscriptions_per_site(session)).items()
    }
