"""Scenario 1: mailers killed with SIGKILL at random moments of a campaign and restarted.

Every confirmed recipient receives the campaign; duplicates stay within the rows that were in
flight (claimed, 'sending') at the kills; the time to finish is compared with a run without
kills on the same stack.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from tests.faults.harness import (
    FULL,
    SHORT,
    FaultSize,
    OwnRedis,
    Sink,
    Stack,
    StaffApi,
    address,
    by_message_id,
    by_recipient,
    duplicates,
    editor_token,
    ledger_counts,
    missing,
    seed_audience,
    wait_for_progress,
    wait_until_done,
)

pytestmark = pytest.mark.one_database


async def run_kills(
    size: FaultSize, database_url: str, redis: OwnRedis, sink: Sink, log_dir: Path
) -> dict[str, float]:
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
    seed = random.randrange(1_000_000)
    chance = random.Random(seed)
    api = StaffApi(stack, await editor_token(database_url))
    try:
        stack.start_web()
        stack.start_mailers()
        calm_seconds = 0.0
        if size is FULL:
            # A run without kills, for the time it takes (the short version skips it).
            calm = await api.create_campaign("Uden uheld", ["kultur"])
            await api.send(calm)
            calm_seconds = await wait_until_done(
                database_url, calm, size.recipients, within=600, stack=stack
            )
            assert not missing(everyone, by_recipient(sink.of_campaign(calm)))

        stormy = await api.create_campaign("Med uheld", ["kultur"])
        started = time.monotonic()
        await api.send(stormy)
        # Kill at random points of the campaign's progress, so that each kill lands mid-send
        # however fast this machine is today.
        marks = sorted(chance.uniform(0.05, 0.8) for _ in range(size.kills))
        in_flight = 0
        for mark in marks:
            await wait_for_progress(database_url, stormy, mark * size.recipients)
            victim = chance.choice([m for m in stack.mailers if m.alive])
            victim.kill()
            in_flight += (await ledger_counts(database_url, stormy))["sending"]
            await asyncio.sleep(chance.uniform(0.2, 1.5))
            victim.start()
        await wait_until_done(database_url, stormy, size.recipients, within=900, stack=stack)
        stormy_seconds = time.monotonic() - started  # from the send, as the calm run's

        received = by_recipient(sink.of_campaign(stormy))
        lost = missing(everyone, received)
        doubled = duplicates(received)
        counts = await ledger_counts(database_url, stormy)
        figures = {
            "recipients": size.recipients,
            "kills": size.kills,
            "lost": len(lost),
            "duplicates": doubled,
            "duplicate Message-IDs": duplicates(by_message_id(sink.of_campaign(stormy))),
            "in flight at the kills": in_flight,
            "seconds without kills": round(calm_seconds, 1),
            "seconds with kills": round(stormy_seconds, 1),
        }
        print(f"\nscenario 1 ({size.name}, random seed {seed}): {figures}")
        assert not lost, f"{len(lost)} recipients never got the campaign: {sorted(lost)[:5]}"
        assert doubled <= in_flight, figures
        assert set(received) == everyone  # nobody outside the audience
        assert dict(counts) == {"sent": size.recipients}
        return figures
    finally:
        await api.aclose()
        stack.stop_all()


async def test_mailers_killed_mid_campaign_lose_nobody(
    fault_database: str, own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await run_kills(SHORT, fault_database, own_redis, sink, tmp_path)


@pytest.mark.faults_long
async def test_mailers_killed_mid_campaign_full_size(
    fault_database: str, own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await run_kills(FULL, fault_database, own_redis, sink, tmp_path)
