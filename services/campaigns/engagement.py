"""Clicks and opens from the public redirect, written in batches to link_clicks and
campaign_opens.

The subscriptions service appends one entry per click (and per open-pixel fetch) to the
engagement stream. Every replica of this service reads it in its lifespan with the consumer
group machinery of mailer_events.py: a batch of entries is folded into one count per
(link, subscriber) and (campaign, subscriber), written in one transaction, and acknowledged
after the commit. A batch that failed stays pending and is read again, so a click is never
lost; one committed whose acknowledgement was then lost is counted again (total clicks may run
a little high after such a failure, unique clicks never do).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import msgspec
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.mailer_events import CampaignEventReader, Entries
from shared.events import (
    ENGAGEMENT_GROUP,
    ENGAGEMENT_STREAM,
    Engagement,
    LinkClicked,
    MailOpened,
    decode_engagement,
)

log = structlog.get_logger(__name__)

# Entries written per transaction.
ENGAGEMENT_BATCH: Final = 500


@dataclass
class _Tally:
    count: int
    first: float
    last: float

    def add(self, at: float) -> None:
        self.count += 1
        self.first = min(self.first, at)
        self.last = max(self.last, at)


def _tally(pairs: Iterable[tuple[tuple[int, str], float]]) -> dict[tuple[int, str], _Tally]:
    tallies: dict[tuple[int, str], _Tally] = {}
    for key, at in pairs:
        tally = tallies.get(key)
        if tally is None:
            tallies[key] = _Tally(1, at, at)
        else:
            tally.add(at)
    return tallies


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _counts(
    tallies: dict[tuple[int, str], _Tally], ids: dict[str, int], targets: Iterable[int]
) -> list[queries.EngagementCount]:
    known = set(targets)
    return [
        queries.EngagementCount(
            target, ids[key], tally.count, _moment(tally.first), _moment(tally.last)
        )
        for (target, key), tally in tallies.items()
        if key in ids and target in known
    ]


async def record_engagement(session: AsyncSession, events: list[Engagement]) -> int:
    """Write a batch of clicks and opens; returns how many of them were counted.

    Events naming a subscriber who has since been erased, or a link or campaign since deleted,
    are left out.
    """
    clicks = _tally(
        ((e.link_id, e.subscriber_key), e.at) for e in events if isinstance(e, LinkClicked)
    )
    opens = _tally(
        ((e.campaign_id, e.subscriber_key), e.at) for e in events if isinstance(e, MailOpened)
    )
    keys = {key for _target, key in (*clicks, *opens)}
    ids = await queries.subscriber_ids_by_key(session, keys)
    campaign_of = await queries.link_campaigns(session, {link for link, _key in clicks})
    live = await queries.existing_campaigns(session, {campaign for campaign, _key in opens})
    click_rows = _counts(clicks, ids, campaign_of)
    open_rows = _counts(opens, ids, live)
    await queries.add_clicks(session, click_rows, campaign_of)
    await queries.add_opens(session, open_rows)
    await session.commit()
    return sum(row.count for row in (*click_rows, *open_rows))


class EngagementReader(CampaignEventReader):
    """One replica's reader of the engagement stream, run as a task in the lifespan."""

    stream = ENGAGEMENT_STREAM
    group = ENGAGEMENT_GROUP
    task_name = "engagement"
    batch_size = ENGAGEMENT_BATCH

    async def apply_entries(self, entries: Entries) -> None:
        """Write a batch of entries in one transaction, then acknowledge them all."""
        if not entries:
            return
        events: list[Engagement] = []
        for entry_id, fields in entries:
            try:
                events.append(decode_engagement(fields))
            except msgspec.DecodeError as exc:
                # Reading it again cannot help: dropped (acknowledged with the rest), said so.
                log.error("engagement.malformed", entry=entry_id, error=str(exc))
        if events:
            async with self.sessionmaker() as session:
                await record_engagement(session, events)
        await self.redis.xack(self.stream, self.group, *(entry_id for entry_id, _ in entries))
