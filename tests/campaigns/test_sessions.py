"""Staff sessions in Redis: fresh ids, idle and absolute timeouts, logout; login throttling."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from services.campaigns import sessions, throttle
from services.campaigns.errors import LoginThrottled


async def test_login_issues_a_fresh_id_and_ends_the_previous(redis: Redis) -> None:
    first = await sessions.start(redis, 7, now=1000.0)
    second = await sessions.start(redis, 7, now=1001.0, previous=first)
    assert second != first
    assert await sessions.load(redis, first, now=1002.0) is None
    loaded = await sessions.load(redis, second, now=1002.0)
    assert loaded is not None and loaded.user_id == 7


async def test_idle_timeout_is_the_key_lifetime_and_restarts_on_use(redis: Redis) -> None:
    session_id = await sessions.start(redis, 1, now=0.0)
    await redis.expire(sessions.KEY_PREFIX + session_id, 5)
    assert await sessions.load(redis, session_id, now=10.0) is not None
    assert await redis.ttl(sessions.KEY_PREFIX + session_id) > sessions.IDLE_SECONDS - 5


async def test_absolute_timeout_ends_even_a_busy_session(redis: Redis) -> None:
    session_id = await sessions.start(redis, 1, now=0.0)
    assert await sessions.load(redis, session_id, now=sessions.ABSOLUTE_SECONDS - 1) is not None
    assert await sessions.load(redis, session_id, now=sessions.ABSOLUTE_SECONDS) is None
    assert await redis.exists(sessions.KEY_PREFIX + session_id) == 0


async def test_logout_ends_the_session(redis: Redis) -> None:
    session_id = await sessions.start(redis, 1, now=0.0)
    await sessions.end(redis, session_id)
    assert await sessions.load(redis, session_id, now=1.0) is None
    assert await sessions.load(redis, "x" * 500, now=1.0) is None


async def test_throttle_counts_known_and_unknown_addresses_alike(redis: Redis) -> None:
    for _ in range(throttle.ADDRESS_LIMIT):
        await throttle.check(redis, "Nobody@example.dk", "10.0.0.1")
        await throttle.record_failure(redis, "nobody@example.dk", "10.0.0.1")
    with pytest.raises(LoginThrottled) as caught:
        await throttle.check(redis, "nobody@example.dk", "10.0.0.2")
    assert 0 < caught.value.retry_after <= throttle.WINDOW_SECONDS
    # Another address from the same client still gets its own attempts.
    await throttle.check(redis, "other@example.dk", "10.0.0.1")
    await throttle.clear(redis, "nobody@example.dk")
    await throttle.check(redis, "nobody@example.dk", "10.0.0.1")


async def test_throttle_per_client_across_addresses(redis: Redis) -> None:
    for n in range(throttle.CLIENT_LIMIT):
        await throttle.record_failure(redis, f"guess{n}@example.dk", "10.0.0.9")
    with pytest.raises(LoginThrottled):
        await throttle.check(redis, "fresh@example.dk", "10.0.0.9")
    await throttle.check(redis, "fresh@example.dk", "10.0.0.10")
