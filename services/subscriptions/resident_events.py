"""Announcing sign-ups, confirmations and unsubscriptions on the resident events stream.

Called after the change committed (shared.events.announce_resident_event explains why a lost
announcement does not fail the request). Residents are named by their key, lists by slug.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable

from redis.asyncio import Redis

from services.subscriptions.queries import ListRow, PreferenceListRow
from shared.events import EventType, ResidentEvent, announce_resident_event
from shared.jobs import JobQueue


def slugs_of(
    lists: Iterable[ListRow | PreferenceListRow],
    list_ids: Collection[int],
) -> tuple[str, ...]:
    """The slugs of those of ``lists`` whose id is in ``list_ids``."""
    return tuple(row.slug for row in lists if row.id in list_ids)


async def announce(
    redis: Redis | JobQueue,
    event_type: EventType,
    subscriber_key: str,
    lists: Collection[str],
    *,
    campaign_id: int | None = None,
) -> None:
    """Publish one event about ``lists`` (none: nothing changed, nothing said)."""
    event = resident_event(event_type, subscriber_key, lists, campaign_id=campaign_id)
    if event is None or not isinstance(redis, Redis):
        # The job pool the handlers are given is an arq pool, a Redis client; the check
        # only narrows the type the domain functions declare for it.
        return
    await announce_resident_event(redis, event)


def resident_event(
    event_type: EventType,
    subscriber_key: str,
    lists: Collection[str],
    *,
    campaign_id: int | None = None,
) -> ResidentEvent | None:
    """The event about ``lists``, stamped now; None when there are none."""
    if not lists:
        return None
    return ResidentEvent(
        type=event_type,
        at=time.time(),
        subscriber_key=subscriber_key,
        lists=tuple(lists),
        campaign_id=campaign_id,
    )
