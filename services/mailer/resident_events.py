"""Announcing bounces, complaints and finished campaigns on the resident events stream.

Called after the change committed (shared.events.announce_resident_event explains why a lost
announcement fails nothing). Residents are named by their pseudonymous key only.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.mailer import queries
from services.mailer.bounces import EventKind
from shared.events import ResidentEvent, announce_resident_event
from shared.statuses import CampaignStatus


async def announce_problem(
    redis: Redis, engine: AsyncEngine, campaign_id: int, subscriber_id: int, kind: EventKind
) -> None:
    """A hard bounce or complaint was recorded for one recipient of a campaign."""
    async with engine.connect() as conn:
        key = await queries.subscriber_key(conn, subscriber_id)
    if key is None or kind == "soft":
        return  # erased since: there is nobody to name
    event = ResidentEvent(
        type="subscriber.bounced" if kind == "hard" else "subscriber.complained",
        at=time.time(),
        subscriber_key=key,
        campaign_id=campaign_id,
    )
    await announce_resident_event(redis, event)


async def announce_sent(redis: Redis | None, engine: AsyncEngine, campaign_id: int) -> None:
    """A campaign's run just finished (the caller's ``finish_if_done`` did it); not cancelled.

    ``redis`` is None only in runtimes made for tests that publish no events.
    """
    if redis is None:
        return
    async with engine.connect() as conn:
        status = await queries.campaign_status(conn, campaign_id)
        run = await queries.get_run(conn, campaign_id)
    if run is None or status == CampaignStatus.CANCELLED:
        return
    event = ResidentEvent(
        type="campaign.sent", at=time.time(), campaign_id=campaign_id, recipients=run.recipients
    )
    await announce_resident_event(redis, event)
