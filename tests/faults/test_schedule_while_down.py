"""Scenario 6: a scheduled campaign whose time passes while every process is down starts once
when they come back, even when two campaigns replicas come back at the same moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from brevdue_cli.redis_server import free_port
from shared.clock import utcnow
from shared.db import create_engine
from shared.schema import campaign_runs, campaigns, staff_audit
from tests.faults.harness import (
    OwnRedis,
    Process,
    Sink,
    Stack,
    StaffApi,
    address,
    by_recipient,
    editor_token,
    seed_audience,
    wait_for_http,
    wait_until_done,
)

pytestmark = pytest.mark.one_database

RECIPIENTS = 200


async def campaign_facts(database_url: str, campaign_id: int) -> tuple[str, int, int]:
    """The campaign's status, its number of runs, and how many times its start was audited."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            status = await conn.scalar(
                sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id)
            )
            runs = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(campaign_runs)
                .where(campaign_runs.c.campaign_id == campaign_id)
            )
            starts = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(staff_audit)
                .where(staff_audit.c.action == "campaign.send")
                .where(staff_audit.c.object == f"campaign:{campaign_id}")
            )
            return str(status), int(runs or 0), int(starts or 0)
    finally:
        await engine.dispose()


async def test_scheduled_time_passing_while_everything_is_down_starts_once(
    fault_database: str, own_redis: OwnRedis, sink: Sink, tmp_path: Path
) -> None:
    await seed_audience(fault_database, RECIPIENTS)
    stack = Stack(
        database_url=fault_database,
        redis_url=own_redis.url,
        sink=sink,
        log_dir=tmp_path,
        mailers=2,
    )
    replica_port = free_port()
    replica = Process(
        "campaigns2",
        ["-m", "brevdue_cli", "serve", "campaigns", "--port", str(replica_port)],
        stack.env,
        tmp_path,
    )
    api = StaffApi(stack, await editor_token(fault_database))
    try:
        stack.start_web()
        campaign = await api.create_campaign("Planlagt", ["kultur"])
        at = (utcnow() + timedelta(seconds=4)).replace(microsecond=0)
        await api.schedule(campaign, at.astimezone(UTC))
        # A power cut: every process goes at once, before the time comes.
        stack.stop_all()
        assert (await campaign_facts(fault_database, campaign))[0] == "scheduled"
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 2)
        assert (await campaign_facts(fault_database, campaign))[0] == "scheduled"
        # Everything comes back, two campaigns replicas at the same moment.
        replica.start()
        stack.start_mailers()
        stack.start_web()
        wait_for_http(f"http://127.0.0.1:{replica_port}/health/live", replica)
        seconds = await wait_until_done(
            fault_database, campaign, RECIPIENTS, within=120, stack=stack
        )
        received = by_recipient(sink.of_campaign(campaign))
        status, runs, starts = await campaign_facts(fault_database, campaign)
        print(
            f"\nscenario 6: started {starts} time(s), {runs} run(s), done {seconds:.1f} s after "
            f"the processes came back; {sum(received.values())} messages to {len(received)}"
        )
        assert set(received) == {address(n) for n in range(RECIPIENTS)}
        assert max(received.values()) == 1
        # The stored status stays 'sending'; the API shows 'sent' once the ledger is settled.
        assert (status, runs, starts) == ("sending", 1, 1)
    finally:
        await api.aclose()
        replica.kill()
        stack.stop_all()
