"""Scenario 3: Redis restarted mid-campaign (AOF on, as deploy/ runs it), and separately
emptied with FLUSHALL. The campaign completes from the ledger, nothing lost, nothing doubled;
sign-ups while Redis is away get 503 with Retry-After, never 500, and every sign-up that got a
2xx has its confirmation mail sent.

arq ends a worker whose Redis connection breaks; the mailer and the subscriptions worker build
theirs again in the same process once Redis answers (shared/workers.py), so no process should
exit. A Supervisor still plays ``restart: unless-stopped`` and counts any restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import (
    FULL,
    SHORT,
    FaultSize,
    OwnRedis,
    SignUps,
    Sink,
    Stack,
    StaffApi,
    Supervisor,
    address,
    by_recipient,
    duplicates,
    editor_token,
    ledger_counts,
    missing,
    open_claims_at_most,
    seed_audience,
    wait_for_progress,
    wait_until_done,
)

pytestmark = pytest.mark.one_database


async def sign_up_for(
    signups: SignUps, client: httpx.AsyncClient, prefix: str, seconds: float
) -> None:
    """A sign-up every 0.1 s for ``seconds``."""
    end = time.monotonic() + seconds
    number = 0
    while time.monotonic() < end:
        await signups.attempt(client, f"{prefix}{number}@example.org")
        number += 1
        await asyncio.sleep(0.1)


async def run_redis_loss(
    size: FaultSize, how: str, database_url: str, redis: OwnRedis, sink: Sink, log_dir: Path
) -> None:
    sink.handler.delay = size.smtp_delay
    await seed_audience(database_url, size.recipients)
    everyone = {address(n) for n in range(size.recipients)}
    stack = Stack(
        database_url=database_url,
        redis_url=redis.url,
        sink=sink,
        log_dir=log_dir,
        mailers=size.mailers,
    )
    api = StaffApi(stack, await editor_token(database_url))
    residents = httpx.AsyncClient(base_url=stack.subscriptions_url, timeout=30)
    signups = SignUps()
    try:
        stack.start_web()
        stack.start_mailers()
        campaign = await api.create_campaign(f"Redis: {how}", ["kultur"])
        started = time.monotonic()
        await api.send(campaign)
        await wait_for_progress(database_url, campaign, 0.2 * size.recipients)
        with Supervisor(stack.processes) as supervisor:
            before = asyncio.create_task(sign_up_for(signups, residents, "foer", 0.5))
            await asyncio.sleep(0.3)
            if how == "restart":
                redis.stop()
                await sign_up_for(signups, residents, "under", size.outage)
                # The mailers' claims that were open when Redis went (see the module's note).
                in_flight = (await ledger_counts(database_url, campaign))["sending"]
                redis.start()
            else:
                in_flight = (await ledger_counts(database_url, campaign))["sending"]
                redis.flushall()
            fault_over = time.monotonic()
            await before
            await sign_up_for(signups, residents, "efter", 1.0)
            await wait_until_done(database_url, campaign, size.recipients, within=600, stack=stack)
            finished = time.monotonic()
        received = by_recipient(sink.of_campaign(campaign))
        deadline = time.monotonic() + 90  # the outbox sweep runs every 20 s
        while time.monotonic() < deadline:
            confirmed = {d.rcpt for d in sink.transactional()}
            if set(signups.accepted) <= confirmed:
                break
            await asyncio.sleep(0.2)
        unconfirmed = sorted(set(signups.accepted) - {d.rcpt for d in sink.transactional()})
        counts = await ledger_counts(database_url, campaign)
        figures = {
            "recipients": size.recipients,
            "lost": len(missing(everyone, received)),
            "duplicates": duplicates(received),
            "in flight at the fault": in_flight,
            "sign-up answers": dict(signups.statuses),
            "503 without Retry-After": signups.without_retry_after,
            "2xx sign-ups without confirmation mail": len(unconfirmed),
            "process restarts": dict(supervisor.restarts),
            "campaign: seconds after the fault": round(finished - fault_over, 1),
            "campaign: seconds in all": round(finished - started, 1),
        }
        print(f"\nscenario 3, {how} ({size.name}): {figures}")
        assert figures["lost"] == 0, figures
        # A job starved of CPU past its life has its claims taken back by the reconciler, and
        # they may be sent again: at most the claims open at the fault.
        assert duplicates(received) <= open_claims_at_most(stack, size), figures
        assert dict(counts) == {"sent": size.recipients}
        assert set(signups.statuses) <= {202, 503}, figures
        assert signups.without_retry_after == 0, figures
        # After a FLUSHALL a confirmation job still queued is gone from Redis; the outbox
        # sweep of the subscriptions worker sends it again.
        assert not unconfirmed, figures
    finally:
        await residents.aclose()
        await api.aclose()
        stack.stop_all()


# Both short versions run with `make test-faults`; `make test` keeps the kills, the unsubscribe
# and the schedule scenarios, within its time budget.
@pytest.mark.faults_long
@pytest.mark.parametrize("how", ["restart", "flushall"])
async def test_redis_lost_mid_campaign(
    how: str, fault_database: str, own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await run_redis_loss(SHORT, how, fault_database, own_redis, sink, tmp_path)


@pytest.mark.faults_long
@pytest.mark.parametrize("how", ["restart", "flushall"])
async def test_redis_lost_mid_campaign_full_size(
    how: str, fault_database: str, own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await run_redis_loss(FULL, how, fault_database, own_redis, sink, tmp_path)
