"""Rate limits shared through Redis: two limiters (two processes) never exceed them together."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter

import pytest
from redis.asyncio import Redis

from services.mailer.config import MailerOptions
from services.mailer.send_rate import RateLimiter, parse_domain_limits
from services.mailer.worker import run_worker
from shared.errors import SettingsError
from shared.rate_limit import RateWindow
from shared.settings import Settings
from tests.mailer.seed import Person, ledger, seed
from tests.mailer.support import FAST, enqueue_start
from tests.support.smtp import RecordingSMTPServer


async def test_limits_hold_across_processes(redis: Redis) -> None:
    limiters = [RateLimiter(redis, per_second=10, domains={"slow.dk": 3}) for _ in range(2)]
    stamps: list[tuple[str, int]] = []

    async def send(limiter: RateLimiter, domain: str) -> None:
        await limiter.acquire(domain)
        stamps.append((domain, int(time.time())))  # no await in between: same second

    started = time.monotonic()
    await asyncio.gather(
        *(send(limiters[n % 2], "fast.dk") for n in range(19)),
        *(send(limiters[n % 2], "slow.dk") for n in range(6)),
    )
    assert time.monotonic() - started > 1.0  # 25 messages at 10/s need three windows
    per_second = Counter(second for _domain, second in stamps)
    assert max(per_second.values()) <= 10
    slow = Counter(second for domain, second in stamps if domain == "slow.dk")
    assert max(slow.values()) <= 3
    assert len(stamps) == 25


def test_domain_limits_are_parsed_and_checked() -> None:
    assert parse_domain_limits(" gmail.com=50, Outlook.com=20 ,") == {
        "gmail.com": 50,
        "outlook.com": 20,
    }
    assert MailerOptions.from_env({"BREVDUE_MAILER_RATE_LIMIT": "200"}).rate_limit == 200
    with pytest.raises(SettingsError, match="DOMAIN_LIMITS"):
        MailerOptions.from_env({"BREVDUE_MAILER_DOMAIN_LIMITS": "gmail.com"})
    with pytest.raises(SettingsError, match="BATCH_SIZE"):
        MailerOptions.from_env({"BREVDUE_MAILER_BATCH_SIZE": "many"})
    assert not RateLimiter(None, per_second=5).enabled
    options = MailerOptions.from_env(
        {
            "BREVDUE_MAILER_RATE_LIMIT_PER_HOUR": "5000",
            "BREVDUE_MAILER_DOMAIN_RATE_LIMIT_PER_MINUTE": "30",
            "BREVDUE_MAILER_DOMAIN_LIMITS_PER_MINUTE": "gmail.com=100,outlook.com=50",
        }
    )
    assert (options.rate_limit_per_hour, options.domain_rate_limit_per_minute) == (5000, 30)
    assert parse_domain_limits(options.domain_limits_per_minute)["outlook.com"] == 50
    with pytest.raises(SettingsError, match="DOMAIN_LIMITS_PER_MINUTE"):
        MailerOptions.from_env({"BREVDUE_MAILER_DOMAIN_LIMITS_PER_MINUTE": "gmail.com=lots"})
    with pytest.raises(SettingsError, match="RATE_LIMIT_PER_HOUR"):
        MailerOptions.from_env({"BREVDUE_MAILER_RATE_LIMIT_PER_HOUR": "-1"})


async def test_sliding_window_weighs_the_previous_window(redis: Redis) -> None:
    window = RateWindow(redis, "test", limit=10, length=60)
    start = 1_000 * 60.0  # the start of a fixed window; the clock is passed in
    grants = [await window.lease(start + 1) for _ in range(11)]
    assert [g.tokens for g in grants] == [1] * 10 + [0]  # blocks of one: 10 // 20 rounds up
    assert grants[-1].wait == pytest.approx(59)  # only the next window makes room
    # Half-way through the next window half of the previous one still counts: 10 * 0.5.
    middle = [await window.lease(start + 90) for _ in range(6)]
    assert [g.tokens for g in middle] == [1] * 5 + [0]
    # 5 + 10 * 0.5 = 10: one more fits once the old window's weight has lost one message,
    # which at 10 messages a minute takes 6 s.
    assert middle[-1].wait == pytest.approx(6)
    assert (await window.lease(start + 95.9)).tokens == 0
    assert (await window.lease(start + 96.1)).tokens == 1
    assert (await window.lease(start + 96.2)).tokens == 0


@pytest.mark.timing
async def test_a_per_minute_domain_limit_holds_for_two_limiters(
    redis: Redis, redis_url: str
) -> None:
    # Two processes, each with its own connection; a "minute" of one second keeps it quick.
    other = Redis.from_url(redis_url)
    limiters = [
        RateLimiter(client, domains_minute={"gmail.com": 5}, minute=1.0)
        for client in (redis, other)
    ]
    stamps: list[float] = []

    async def send(limiter: RateLimiter) -> None:
        await limiter.acquire("Gmail.com")
        stamps.append(time.time())

    started = time.monotonic()
    await asyncio.gather(*(send(limiters[n % 2]) for n in range(12)))
    await other.aclose()
    assert len(stamps) == 12
    assert 1.0 < time.monotonic() - started < 4.0  # 12 at 5 per window span three windows
    stamps.sort()
    for n, stamp in enumerate(stamps):
        window = int(stamp)
        current = sum(1 for s in stamps[: n + 1] if int(s) == window)
        previous = sum(1 for s in stamps if int(s) == window - 1)
        # The sliding-window estimate never went over the limit when a message was let through.
        assert current + previous * (1 - (stamp - window)) <= 5 + 0.05


@pytest.mark.timing
async def test_a_full_window_stops_the_wait_at_the_deadline(redis: Redis) -> None:
    limiter = RateLimiter(redis, per_hour=2)
    assert await limiter.acquire("a.dk") and await limiter.acquire("b.dk")
    started = time.monotonic()
    assert not await limiter.acquire("c.dk", deadline=started + 0.2)
    assert 0.15 < time.monotonic() - started < 1.0


async def test_rate_limited_campaign_is_slowed_not_failed(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    people = [Person(f"p{n}@example.dk", f"P{n}", "da", {"kultur": "confirmed"}) for n in range(10)]
    campaign_id, _ids = await seed(settings.database_url, people, campaign_lists_=("kultur",))
    await enqueue_start(settings, campaign_id)
    # job_timeout 3 s: a batch stops sending after 1.5 s and runs again for the rest.
    options = dataclasses.replace(FAST, rate_limit=4, job_timeout=3, batch_size=10)
    started = time.monotonic()
    await run_worker(settings, burst=True, options=options)
    assert time.monotonic() - started > 1.0  # 10 messages at 4/s need three windows
    rows = await ledger(settings.database_url, campaign_id)
    assert [(r["status"], r["attempts"]) for r in rows.values()] == [("sent", 1)] * 10
    assert len(smtp_server.messages) == 10
