"""Rate limits shared through Redis: two limiters (two processes) never exceed them together."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter

import pytest
from redis.asyncio import Redis

from services.mailer.config import MailerOptions
from services.mailer.ratelimit import RateLimiter, parse_domain_limits
from services.mailer.worker import run_worker
from shared.errors import SettingsError
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
