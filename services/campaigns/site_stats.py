"""Sign-ups per member site, read from the subscriptions service's table."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.schemas import DayCount, SiteStatsOut, StatusCounts
from services.campaigns.sites import site_row
from shared.clock import utcnow

STATS_DAYS: Final = 30


async def get_site_stats(session: AsyncSession, key: str) -> SiteStatsOut:
    """Subscriptions by status, and residents signing up per UTC day over the last 30 days."""
    site = await site_row(session, key)
    first = utcnow().date() - timedelta(days=STATS_DAYS - 1)
    since = datetime.combine(first, time(), tzinfo=UTC)
    counts = await queries.site_subscription_counts(session, site.id)
    per_day = await queries.site_signups_per_day(session, site.id, since)
    days = [first + timedelta(days=offset) for offset in range(STATS_DAYS)]
    return SiteStatsOut(
        site=site.key,
        subscriptions=StatusCounts(
            pending=counts.get("pending", 0),
            confirmed=counts.get("confirmed", 0),
            unsubscribed=counts.get("unsubscribed", 0),
        ),
        days=[DayCount(date=day, signups=per_day.get(day, 0)) for day in days],
    )
