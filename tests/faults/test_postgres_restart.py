"""Scenario 4: PostgreSQL restarted during a burst of sign-ups and during a send.

While it is down sign-ups get 503 with Retry-After, never a 500; every sign-up that got a 2xx
is stored; the send resumes by itself once the database is back. The scenario runs its own
PostgreSQL cluster (initdb on another port), never the shared server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from shared.db import create_engine
from shared.migrate import upgrade
from shared.schema import subscribers
from tests.faults.harness import (
    FULL,
    SHORT,
    FaultSize,
    OwnPostgres,
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
    postgres_binaries,
    seed_audience,
    wait_for_progress,
    wait_until_done,
)

pytestmark = pytest.mark.skipif(
    postgres_binaries() is None, reason="needs PostgreSQL's server binaries (initdb, pg_ctl)"
)


async def stored(database_url: str, emails: list[str]) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(subscribers.c.email).where(subscribers.c.email.in_(emails))
            )
            return {str(email) for email in rows.scalars()}
    finally:
        await engine.dispose()


async def burst(signups: SignUps, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
    """Sign-ups from four residents at a time until ``stop``."""
    number = 0
    while not stop.is_set():
        await asyncio.gather(
            *(signups.attempt(client, f"pg{number + n}@example.org") for n in range(4))
        )
        number += 4
        await asyncio.sleep(0.05)


async def run_postgres_restart(
    size: FaultSize, redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    postgres = OwnPostgres()
    postgres.init()
    try:
        await asyncio.to_thread(upgrade, postgres.url)
        sink.handler.delay = size.smtp_delay
        await seed_audience(postgres.url, size.recipients)
        everyone = {address(n) for n in range(size.recipients)}
        stack = Stack(
            database_url=postgres.url,
            redis_url=redis.url,
            sink=sink,
            log_dir=tmp_path,
            mailers=size.mailers,
        )
        api = StaffApi(stack, await editor_token(postgres.url))
        residents = httpx.AsyncClient(base_url=stack.subscriptions_url, timeout=30)
        signups = SignUps()
        try:
            stack.start_web()
            stack.start_mailers()
            campaign = await api.create_campaign("Databasen genstarter", ["kultur"])
            started = time.monotonic()
            await api.send(campaign)
            await wait_for_progress(postgres.url, campaign, 0.2 * size.recipients)
            with Supervisor(stack.processes) as supervisor:
                stop = asyncio.Event()
                signing_up = asyncio.create_task(burst(signups, residents, stop))
                await asyncio.sleep(0.5)
                await asyncio.to_thread(postgres.stop, "fast")
                down = time.monotonic()
                await asyncio.sleep(size.outage)
                await asyncio.to_thread(postgres.start)
                back = time.monotonic()
                await asyncio.sleep(1.0)
                stop.set()
                await signing_up
                await wait_until_done(
                    postgres.url, campaign, size.recipients, within=600, stack=stack
                )
                finished = time.monotonic()
            received = by_recipient(sink.of_campaign(campaign))
            kept = await stored(postgres.url, signups.accepted)
            figures = {
                "recipients": size.recipients,
                "seconds down": round(back - down, 1),
                "lost": len(missing(everyone, received)),
                "duplicates": duplicates(received),
                "sign-up answers": dict(signups.statuses),
                "503 without Retry-After": signups.without_retry_after,
                "2xx sign-ups not stored": len(set(signups.accepted) - kept),
                "process restarts": dict(supervisor.restarts),
                "campaign: seconds after the database was back": round(finished - back, 1),
                "campaign: seconds in all": round(finished - started, 1),
            }
            print(f"\nscenario 4 ({size.name}): {figures}")
            assert figures["lost"] == 0, figures
            # Claims open when the database went cannot be settled: the reconciler sends them
            # again. No more can be open than the mailers' batches hold at a time.
            assert duplicates(received) <= open_claims_at_most(stack, size), figures
            assert set(signups.statuses) <= {202, 503}, figures
            assert signups.without_retry_after == 0, figures
            assert set(signups.accepted) <= kept, figures
            assert dict(await ledger_counts(postgres.url, campaign)) == {"sent": size.recipients}
        finally:
            await residents.aclose()
            await api.aclose()
            stack.stop_all()
    finally:
        postgres.remove()


@pytest.mark.faults_long
async def test_postgres_restarted_mid_send_and_sign_ups(
    own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await run_postgres_restart(SHORT, own_redis, sink, tmp_path)


@pytest.mark.faults_long
async def test_postgres_restarted_full_size(
    own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await run_postgres_restart(FULL, own_redis, sink, tmp_path)
