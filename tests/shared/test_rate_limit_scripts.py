"""The rate-limit scripts run by digest, and by their text when Redis does not hold them."""

from __future__ import annotations

from uuid import uuid4

from redis.asyncio import Redis

from shared.rate_limit import _ATTEMPT, AttemptWindow


async def test_a_window_counts_on_when_redis_has_forgotten_its_script(redis: Redis) -> None:
    window = AttemptWindow(redis, f"test:{uuid4().hex}", limit=1, window=60)
    await redis.script_flush()  # as after a restart: the digest alone is not enough
    assert (await window.hit("someone")).allowed
    assert await redis.script_exists(_ATTEMPT.sha) == [True]  # the text was sent and kept
    refused = await window.hit("someone")  # by digest
    assert not refused.allowed and 1 <= refused.retry_after <= 60
    await redis.script_flush()
    assert not (await window.hit("someone")).allowed  # by text again, the count intact
