"""Figures about mailing lists: subscriptions by state and growth per day."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import lists
from services.campaigns.audience_schemas import GrowthDay, ListStatsOut, StateCounts
from services.campaigns.queries import audience
from services.campaigns.schemas import ListOut
from shared.clock import utcnow

GROWTH_DAYS: Final = 90


def _counts(by_state: dict[str, int]) -> StateCounts:
    return StateCounts(
        confirmed=by_state.get("confirmed", 0),
        pending=by_state.get("pending", 0),
        unsubscribed=by_state.get("unsubscribed", 0),
        bounced=by_state.get("bounced", 0),
    )


async def lists_with_counts(session: AsyncSession) -> list[tuple[ListOut, StateCounts]]:
    """Every list with its subscriptions by state (one grouped query for all lists)."""
    every = await lists.get_lists(session)
    counts = await audience.state_counts(session)
    return [(item, _counts(counts.get(item.id, {}))) for item in every.items]


async def get_list_stats(session: AsyncSession, slug: str) -> ListStatsOut:
    """A list's subscriptions by state and its confirmations and unsubscriptions per UTC day."""
    found = await lists.get_list(session, slug)
    first = utcnow().date() - timedelta(days=GROWTH_DAYS - 1)
    since = datetime.combine(first, time(), tzinfo=UTC)
    counts = await audience.state_counts(session, found.id)
    changes = await audience.consent_changes_per_day(session, found.id, since)
    days = []
    for offset in range(GROWTH_DAYS):
        day = first + timedelta(days=offset)
        confirmed, withdrawn = changes.get(day, (0, 0))
        days.append(
            GrowthDay(
                date=day, confirmed=confirmed, unsubscribed=withdrawn, net=confirmed - withdrawn
            )
        )
    return ListStatsOut(slug=found.slug, counts=_counts(counts.get(found.id, {})), days=days)
