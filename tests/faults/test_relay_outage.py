"""Scenario 2: the relay refuses connections for a while, then answers 421 to everything for
as long again. The campaign completes after recovery, nothing is lost or doubled, and the
confirmation mails of sign-ups made during the outage arrive soon after it."""

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
    Sink,
    Stack,
    StaffApi,
    address,
    by_recipient,
    duplicates,
    editor_token,
    first_arrival,
    ledger_counts,
    missing,
    seed_audience,
    sign_up,
    wait_for_progress,
    wait_until_done,
)

pytestmark = pytest.mark.one_database


async def run_relay_outage(
    size: FaultSize, database_url: str, redis: OwnRedis, sink: Sink, log_dir: Path
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
    try:
        stack.start_web()
        stack.start_mailers()
        campaign = await api.create_campaign("Relæet svigter", ["kultur"])
        started = time.monotonic()
        await api.send(campaign)
        await wait_for_progress(database_url, campaign, 0.1 * size.recipients)

        sink.stop()  # connections refused
        refused = await sign_up(residents, "under-afvisning@example.org")
        await asyncio.sleep(size.outage)
        sink.handler.deferring = True
        sink.start()  # every command answered 421
        deferred = await sign_up(residents, "under-421@example.org")
        await asyncio.sleep(size.outage)
        sink.handler.deferring = False
        recovered = time.monotonic()

        await wait_until_done(database_url, campaign, size.recipients, within=900, stack=stack)
        finished = time.monotonic()
        mail = sink.of_campaign(campaign)
        received = by_recipient(mail)
        last_campaign = max(d.at for d in mail)
        deadline = time.monotonic() + 60
        confirmations: dict[str, float | None] = {}
        while time.monotonic() < deadline:
            confirmations = {
                rcpt: first_arrival(sink.transactional(), rcpt)
                for rcpt in ("under-afvisning@example.org", "under-421@example.org")
            }
            if all(confirmations.values()):
                break
            await asyncio.sleep(0.2)
        counts = await ledger_counts(database_url, campaign)
        arrived = [at for at in confirmations.values() if at is not None]
        figures = {
            "recipients": size.recipients,
            "outage seconds (refused + 421)": 2 * size.outage,
            "lost": len(missing(everyone, received)),
            "duplicates": duplicates(received),
            "421 answers": sink.handler.deferred,
            "confirmations delivered": len(arrived),
            "confirmations: seconds after recovery": round(max(arrived) - recovered, 1)
            if arrived
            else None,
            "campaign: seconds after recovery to its last message": round(
                last_campaign - recovered, 1
            ),
            "campaign: seconds in all": round(finished - started, 1),
        }
        print(f"\nscenario 2 ({size.name}): {figures}")
        assert refused.status_code == 202, refused.text
        assert deferred.status_code == 202, deferred.text
        assert figures["lost"] == 0 and figures["duplicates"] == 0, figures
        assert dict(counts) == {"sent": size.recipients}
        assert len(arrived) == 2, figures
        if size is FULL:
            # The transactional queue has its own worker: it is back before the campaign is.
            assert max(arrived) < last_campaign, figures
    finally:
        await residents.aclose()
        await api.aclose()
        stack.stop_all()


@pytest.mark.faults_long
async def test_relay_refusing_then_deferring(
    fault_database: str, own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await run_relay_outage(SHORT, fault_database, own_redis, sink, tmp_path)


@pytest.mark.faults_long
async def test_relay_refusing_then_deferring_full_size(
    fault_database: str, own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await run_relay_outage(FULL, fault_database, own_redis, sink, tmp_path)
