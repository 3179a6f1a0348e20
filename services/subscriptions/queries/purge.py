"""The purge of sign-ups never confirmed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import (
    consent_events,
    subscribers,
    subscriptions,
)
from shared.statuses import SubscriberStatus, SubscriptionStatus


async def find_stale_pending_subscribers(
    session: AsyncSession, requested_before: datetime, limit: int
) -> list[int]:
    """Up to ``limit`` subscribers with a pending subscription requested before the cut-off."""
    query = (
        sa.select(subscriptions.c.subscriber_id)
        .where(
            subscriptions.c.status == SubscriptionStatus.PENDING,
            subscriptions.c.requested_at < requested_before,
        )
        .group_by(subscriptions.c.subscriber_id)
        .order_by(subscriptions.c.subscriber_id)
        .limit(limit)
    )
    return [int(value) for value in (await session.execute(query)).scalars()]


async def delete_stale_pending(
    session: AsyncSession, subscriber_ids: Collection[int], requested_before: datetime
) -> int:
    """Delete these subscribers' pending subscriptions requested before the cut-off."""
    result = await session.execute(
        sa.delete(subscriptions).where(
            subscriptions.c.subscriber_id.in_(list(subscriber_ids)),
            subscriptions.c.status == SubscriptionStatus.PENDING,
            subscriptions.c.requested_at < requested_before,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_subscribers_without_subscriptions(
    session: AsyncSession, subscriber_ids: Collection[int], before: datetime
) -> int:
    """Delete those of these active subscribers that have no subscription left at all and
    have not changed since the cut-off (a sign-up in the meantime touches the row)."""
    if not subscriber_ids:
        return 0
    orphan = sa.and_(
        subscribers.c.id.in_(list(subscriber_ids)),
        subscribers.c.status == SubscriberStatus.ACTIVE,
        subscribers.c.created_at < before,
        subscribers.c.updated_at < before,
        ~sa.exists().where(subscriptions.c.subscriber_id == subscribers.c.id),
    )
    # Their consent records are of requests never confirmed. Deleted explicitly rather than
    # relying on ON DELETE CASCADE being enforced everywhere.
    await session.execute(
        sa.delete(consent_events).where(
            consent_events.c.subscriber_id.in_(sa.select(subscribers.c.id).where(orphan))
        )
    )
    result = await session.execute(sa.delete(subscribers).where(orphan))
    return int(getattr(result, "rowcount", 0) or 0)
