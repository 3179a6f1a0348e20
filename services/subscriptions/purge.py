"""Deleting sign-ups nobody confirmed: old pending subscriptions and the people left with none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subscriptions import queries
from shared.clock import utcnow

log = structlog.get_logger(__name__)

# Subscribers per transaction: short transactions keep sign-ups flowing during a purge.
BATCH_SIZE = 500


@dataclass(frozen=True)
class PurgeResult:
    """How much a purge deleted."""

    subscriptions: int = 0
    subscribers: int = 0
    batches: int = 0


async def purge_unconfirmed(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    older_than_days: int,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> PurgeResult:
    """Delete pending subscriptions requested more than ``older_than_days`` ago, then the
    subscribers this leaves with no subscription at all (they never confirmed anything)."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    total = PurgeResult()
    while True:
        async with sessionmaker() as session, session.begin():
            ids = await queries.find_stale_pending_subscribers(session, cutoff, batch_size)
            if not ids:
                break
            deleted = await queries.delete_stale_pending(session, ids, cutoff)
            gone = await queries.delete_subscribers_without_subscriptions(session, ids, cutoff)
        total = PurgeResult(
            total.subscriptions + deleted, total.subscribers + gone, total.batches + 1
        )
        if len(ids) < batch_size:
            break
    log.info(
        "purge.unconfirmed",
        subscriptions=total.subscriptions,
        subscribers=total.subscribers,
        batches=total.batches,
        older_than_days=older_than_days,
    )
    return total
