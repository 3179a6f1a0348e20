"""The batch writer of clicks and opens: entries folded into counts per (link, subscriber),
left out when they name no one any more, malformed ones dropped, a dead replica's batch taken
over. Real Redis stream and database; the path from the mail through the redirect is in
tests/test_link_tracking.py."""

from __future__ import annotations

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import queries
from services.campaigns.engagement import EngagementReader
from shared.db import create_sessionmaker
from shared.events import (
    ENGAGEMENT_GROUP,
    ENGAGEMENT_STREAM,
    PAYLOAD_FIELD,
    LinkClicked,
    MailOpened,
    publish_engagement,
)
from shared.schema import campaign_links, campaign_opens, campaigns, link_clicks, subscribers
from tests.campaigns.test_mailer_events import REQUESTED, eventually

AT = REQUESTED.timestamp()


async def _seed(db: AsyncEngine) -> tuple[int, int, int]:
    """A campaign with one tracked link and one subscriber (key "k1"): their ids."""
    async with db.begin() as conn:
        campaign_id = (
            await conn.execute(
                sa.insert(campaigns).values(
                    subject="Nyt",
                    body="<p>x</p>",
                    status="sent",
                    track_opens=True,
                    created_at=REQUESTED,
                    updated_at=REQUESTED,
                )
            )
        ).inserted_primary_key[0]
        link_id = (
            await conn.execute(
                sa.insert(campaign_links).values(
                    campaign_id=campaign_id, url="https://a.test/", position=0
                )
            )
        ).inserted_primary_key[0]
        subscriber_id = (
            await conn.execute(
                sa.insert(subscribers).values(
                    key="k1",
                    email="anne@example.dk",
                    language="da",
                    created_at=REQUESTED,
                    updated_at=REQUESTED,
                )
            )
        ).inserted_primary_key[0]
    return int(campaign_id), int(link_id), int(subscriber_id)


async def test_batches_are_counted_per_link_and_subscriber(db: AsyncEngine, redis: Redis) -> None:
    campaign_id, link_id, subscriber_id = await _seed(db)
    await redis.xgroup_create(ENGAGEMENT_STREAM, ENGAGEMENT_GROUP, id="0", mkstream=True)
    for offset in (30, 0, 60):
        await publish_engagement(
            redis, LinkClicked(link_id=link_id, subscriber_key="k1", at=AT + offset)
        )
    # Names no one any more (an erased subscriber, a deleted link or campaign): left out.
    await publish_engagement(redis, LinkClicked(link_id=link_id, subscriber_key="gone", at=AT))
    await publish_engagement(redis, LinkClicked(link_id=link_id + 99, subscriber_key="k1", at=AT))
    await publish_engagement(
        redis, MailOpened(campaign_id=campaign_id + 99, subscriber_key="k1", at=AT)
    )
    await publish_engagement(redis, MailOpened(campaign_id=campaign_id, subscriber_key="k1", at=AT))
    await redis.xadd(ENGAGEMENT_STREAM, {PAYLOAD_FIELD: b"\xc1not msgpack"})
    # A replica read all of it and died before writing.
    await redis.xreadgroup(ENGAGEMENT_GROUP, "dead", {ENGAGEMENT_STREAM: ">"}, count=100)

    reader = EngagementReader(redis, create_sessionmaker(db), block_ms=100, backoff=(0.02, 0.1))
    reader.start()
    try:

        async def written() -> bool:
            pending = await redis.xpending(ENGAGEMENT_STREAM, ENGAGEMENT_GROUP)
            return int(pending["pending"]) == 0

        await eventually(written)
        # A second batch adds to the same row.
        await publish_engagement(
            redis, LinkClicked(link_id=link_id, subscriber_key="k1", at=AT + 90)
        )

        async def four() -> bool:
            async with db.connect() as conn:
                return await conn.scalar(sa.select(link_clicks.c.clicks)) == 4

        await eventually(four)
    finally:
        await reader.stop()
    async with db.connect() as conn:
        [row] = (await conn.execute(sa.select(link_clicks))).mappings().all()
        [opened] = (await conn.execute(sa.select(campaign_opens))).mappings().all()
    assert (row["link_id"], row["subscriber_id"], row["campaign_id"]) == (
        link_id,
        subscriber_id,
        campaign_id,
    )
    assert row["first_at"].replace(tzinfo=None) == REQUESTED.replace(tzinfo=None)
    assert (row["last_at"].replace(tzinfo=None) - REQUESTED.replace(tzinfo=None)).seconds == 90
    assert (opened["campaign_id"], opened["opens"]) == (campaign_id, 1)
    async with create_sessionmaker(db)() as session:
        [stats] = await queries.link_stats(session, campaign_id)
        assert (stats.url, stats.unique_clicks, stats.total_clicks) == ("https://a.test/", 1, 4)
        assert await queries.unique_clickers(session, campaign_id) == 1
        assert await queries.open_counts(session, campaign_id) == (1, 1)
