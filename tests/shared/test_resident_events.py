"""Resident event entries: a round trip through a real Redis stream, refused shapes, and an
announcement that Redis cannot take failing nothing."""

from __future__ import annotations

import msgspec
import pytest
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port
from shared.events import (
    PAYLOAD_FIELD,
    RESIDENT_EVENTS_STREAM,
    ResidentEvent,
    announce_resident_event,
    decode_resident_event,
)


async def test_an_announced_event_reads_back_from_the_stream(redis: Redis) -> None:
    event = ResidentEvent(
        type="subscriber.unsubscribed",
        at=1_764_000_000.5,
        subscriber_key="ab" * 16,
        lists=("kultur", "idraet"),
        campaign_id=3,
    )
    assert await announce_resident_event(redis, event)
    [(_entry_id, fields)] = await redis.xrange(RESIDENT_EVENTS_STREAM)
    assert decode_resident_event(fields) == event


def test_entries_outside_the_contract_are_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_resident_event({b"other": b"x"})
    unknown_type = msgspec.msgpack.encode({"type": "subscriber.erased", "at": 1.0})
    with pytest.raises(msgspec.ValidationError):
        decode_resident_event({PAYLOAD_FIELD: unknown_type})


async def test_an_announcement_redis_cannot_take_returns_false() -> None:
    gone = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    try:
        event = ResidentEvent(type="campaign.sent", at=1.0, campaign_id=1, recipients=0)
        assert not await announce_resident_event(gone, event)
    finally:
        await gone.aclose()
