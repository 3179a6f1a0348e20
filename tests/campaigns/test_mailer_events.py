"""The reader of the mailer's campaign events: reclaimed entries, bad entries, lost groups, stale
events. Real Redis streams and a real database; the full path through the mailer and the staff
API is in test_campaign_actions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.mailer_events import CampaignEventReader
from shared.db import create_sessionmaker
from shared.events import (
    CAMPAIGN_EVENTS_GROUP,
    CAMPAIGN_EVENTS_STREAM,
    PAYLOAD_FIELD,
    CampaignPaused,
    publish_campaign_paused,
)
from shared.schema import campaign_runs, campaigns

REQUESTED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def campaign_stopped_by_mailer(db: AsyncEngine, status: str = "sending") -> int:
    """A campaign whose run asked for a pause after its row last changed; return its id."""
    async with db.begin() as conn:
        result = await conn.execute(
            sa.insert(campaigns).values(
                subject="Nyt",
                body="<p>Hej</p>",
                status=status,
                created_at=REQUESTED - timedelta(hours=1),
                updated_at=REQUESTED - timedelta(minutes=5),
                send_requested_at=REQUESTED - timedelta(minutes=5),
            )
        )
        campaign_id = int(result.inserted_primary_key[0])
        await conn.execute(
            sa.insert(campaign_runs).values(
                campaign_id=campaign_id,
                state="pause_requested",
                recipients=10,
                started_at=REQUESTED - timedelta(minutes=5),
                fanned_out_at=REQUESTED - timedelta(minutes=4),
                pause_requested_at=REQUESTED,
            )
        )
    return campaign_id


async def campaign_state(db: AsyncEngine, campaign_id: int) -> tuple[str, str | None]:
    """The campaign's (status, pause_reason)."""
    async with db.connect() as conn:
        row = (
            await conn.execute(
                sa.select(campaigns.c.status, campaigns.c.pause_reason).where(
                    campaigns.c.id == campaign_id
                )
            )
        ).one()
    return str(row.status), row.pause_reason


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5) -> None:
    """Poll ``check()`` until it holds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def pending(redis: Redis) -> int:
    """Entries of the group read and not acknowledged."""
    return int((await redis.xpending(CAMPAIGN_EVENTS_STREAM, CAMPAIGN_EVENTS_GROUP))["pending"])


@pytest.fixture
async def reader(
    db: AsyncEngine, redis: Redis, redis_url: str
) -> AsyncIterator[CampaignEventReader]:
    """A started reader with short waits; stopped after the test."""
    events = CampaignEventReader(
        Redis.from_url(redis_url), create_sessionmaker(db), block_ms=100, backoff=(0.02, 0.1)
    )
    yield events
    await events.stop()
    await events.redis.aclose()


async def test_entry_a_dead_replica_read_is_applied_by_the_next_to_start(
    db: AsyncEngine, redis: Redis, reader: CampaignEventReader
) -> None:
    campaign_id = await campaign_stopped_by_mailer(db)
    await redis.xgroup_create(CAMPAIGN_EVENTS_STREAM, CAMPAIGN_EVENTS_GROUP, id="0", mkstream=True)
    await publish_campaign_paused(redis, CampaignPaused(campaign_id=campaign_id, reason="5 of 9"))
    # A replica read it and died before applying it.
    read = await redis.xreadgroup(
        CAMPAIGN_EVENTS_GROUP, "dead-replica", {CAMPAIGN_EVENTS_STREAM: ">"}, count=10
    )
    assert len(read[0][1]) == 1 and await pending(redis) == 1

    reader.start()
    await eventually(lambda: _is(db, campaign_id, ("paused", "5 of 9")))
    await eventually(lambda: _no_pending(redis))


async def test_malformed_entry_is_dropped_and_the_next_applied(
    db: AsyncEngine, redis: Redis, reader: CampaignEventReader
) -> None:
    campaign_id = await campaign_stopped_by_mailer(db)
    await redis.xadd(CAMPAIGN_EVENTS_STREAM, {PAYLOAD_FIELD: b"\xc1not msgpack"})
    await redis.xadd(CAMPAIGN_EVENTS_STREAM, {b"other": b"field"})
    too_big = CampaignPaused(campaign_id=2**64 - 1, reason="no such campaign")
    await publish_campaign_paused(redis, too_big)
    await publish_campaign_paused(redis, CampaignPaused(campaign_id=campaign_id, reason="why"))
    reader.start()
    await eventually(lambda: _is(db, campaign_id, ("paused", "why")))
    await eventually(lambda: _no_pending(redis))


async def test_reader_survives_its_group_being_deleted(
    db: AsyncEngine, redis: Redis, reader: CampaignEventReader
) -> None:
    first = await campaign_stopped_by_mailer(db)
    second = await campaign_stopped_by_mailer(db)
    reader.start()
    await publish_campaign_paused(redis, CampaignPaused(campaign_id=first, reason="first"))
    await eventually(lambda: _is(db, first, ("paused", "first")))
    # Redis lost the stream and its group (a flush, a failover without persistence).
    await redis.delete(CAMPAIGN_EVENTS_STREAM)
    await asyncio.sleep(0.3)  # the reader's reads fail meanwhile
    await publish_campaign_paused(redis, CampaignPaused(campaign_id=second, reason="second"))
    await eventually(lambda: _is(db, second, ("paused", "second")))
    assert reader.running


async def test_event_read_again_after_staff_resumed_changes_nothing(
    db: AsyncEngine, redis: Redis, reader: CampaignEventReader
) -> None:
    campaign_id = await campaign_stopped_by_mailer(db)
    resumed_at = REQUESTED + timedelta(minutes=3)
    async with db.begin() as conn:  # staff resumed; the resume job has not run yet
        await conn.execute(
            sa.update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(status="sending", updated_at=resumed_at)
        )
    await publish_campaign_paused(redis, CampaignPaused(campaign_id=campaign_id, reason="old"))
    reader.start()
    await eventually(lambda: _no_pending_and_read(redis))
    assert await campaign_state(db, campaign_id) == ("sending", None)


async def test_staff_paused_campaign_gains_the_mailers_reason(
    db: AsyncEngine, redis: Redis, reader: CampaignEventReader
) -> None:
    campaign_id = await campaign_stopped_by_mailer(db, status="paused")
    await publish_campaign_paused(redis, CampaignPaused(campaign_id=campaign_id, reason="why"))
    reader.start()
    await eventually(lambda: _is(db, campaign_id, ("paused", "why")))


@pytest.mark.timing
async def test_stop_is_prompt_while_redis_is_away(db: AsyncEngine) -> None:
    events = CampaignEventReader(
        Redis.from_url("redis://127.0.0.1:1/0"), create_sessionmaker(db), backoff=(0.02, 0.1)
    )
    events.start()
    await asyncio.sleep(0.3)  # connections refused, retried with a backoff
    assert events.running
    started = time.monotonic()
    await events.stop()
    await events.redis.aclose()
    assert not events.running and time.monotonic() - started < 1


async def _is(db: AsyncEngine, campaign_id: int, expected: tuple[str, str | None]) -> bool:
    return await campaign_state(db, campaign_id) == expected


async def _no_pending(redis: Redis) -> bool:
    return await pending(redis) == 0


async def _no_pending_and_read(redis: Redis) -> bool:
    groups = await redis.xinfo_groups(CAMPAIGN_EVENTS_STREAM)
    read = bool(groups) and groups[0]["last-delivered-id"] != b"0-0"
    return read and await pending(redis) == 0
