"""What a subscriber's subscriptions say about whether any audience may hold them, kept on the
subscriber (``subscribers.confirmed_lists``) so that counting a segment needs no pass over
every subscription. Every statement that confirms or ends a subscription recounts here, but
for the unsubscribe link on PostgreSQL, which lowers the count in its one statement
(link_withdrawal.py says why that is the same number)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import subscribers, subscriptions
from shared.statuses import SubscriptionStatus

# Built once (every confirmation and unsubscribe recounts); the ids come with the call.
_IDS: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)
_LOCK_SUBSCRIBERS = sa.select(subscribers.c.id).where(subscribers.c.id.in_(_IDS)).with_for_update()
_CONFIRMED = (
    sa.select(sa.func.count())
    .where(
        subscriptions.c.subscriber_id == subscribers.c.id,
        subscriptions.c.status == SubscriptionStatus.CONFIRMED,
    )
    .scalar_subquery()
)
_RECOUNT_AND_TOUCH = (
    sa.update(subscribers)
    .where(subscribers.c.id.in_(_IDS))
    .values(confirmed_lists=_CONFIRMED, updated_at=sa.bindparam("touched_at"))
)
_RECOUNT = (
    sa.update(subscribers)
    .where(subscribers.c.id.in_(_IDS), subscribers.c.confirmed_lists != _CONFIRMED)
    .values(confirmed_lists=_CONFIRMED)
)


async def recount_confirmed_lists(
    session: AsyncSession, subscriber_ids: Collection[int], *, touched_at: datetime | None = None
) -> None:
    """Store how many lists each of these subscribers is confirmed on, in this transaction;
    with ``touched_at``, also as their ``updated_at`` (their subscriptions changed), in the same
    statement."""
    if not subscriber_ids:
        return
    ids = sorted(subscriber_ids)
    # Lock the rows first, in id order: a concurrent transaction that changed another of their
    # subscriptions has then committed, and the count below, a new statement with a new
    # snapshot, sees its change too (SQLite has one writer at a time and needs no lock).
    await session.execute(_LOCK_SUBSCRIBERS, {"ids": ids})
    if touched_at is not None:
        await session.execute(_RECOUNT_AND_TOUCH, {"ids": ids, "touched_at": touched_at})
        return
    await session.execute(_RECOUNT, {"ids": ids})
