"""An unsubscribe that commits while the claim of its resident's row is running.

PostgreSQL runs the claiming UPDATE at READ COMMITTED: its check that the resident is still
subscribed reads the subscriptions as of the statement's start. An unsubscribe committed a moment
later is not seen by it, although the resident has already been answered "unsubscribed". The
test makes that moment as long as it likes: it holds a lock on the row the claim wants, lets the
claim start and wait, commits the unsubscribe, then lets the claim go on.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.mailer import campaign_delivery, fanout
from services.mailer.runtime import MailerRuntime
from shared.db import create_engine
from shared.queues import DELIVER_BATCH
from shared.schema import deliveries
from shared.settings import Settings
from tests.mailer.seed import Person, ledger, seed, set_subscription
from tests.mailer.support import FAST, BatchCollector
from tests.support.smtp import RecordingSMTPServer

pytestmark = pytest.mark.one_database

PEOPLE = [
    Person("anne@example.dk", "Anne", "da", {"kultur": "confirmed"}),
    Person("eva@example.se", "Eva", "sv", {"kultur": "confirmed"}),
]


async def _claim_waits_for_a_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query ILIKE 'UPDATE deliveries%'"
            )
        )
    return bool(waiting)


async def test_an_unsubscribe_committed_during_the_claim_stops_the_mail(
    settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: a claim never overlaps an unsubscribe")
    campaign_id, ids = await seed(settings.database_url, PEOPLE)
    options = dataclasses.replace(FAST, batch_size=10, chunk_size=10)
    runtime = MailerRuntime.start(settings, options)
    jobs = BatchCollector()
    engine = create_engine(settings.database_url)
    try:
        assert await fanout.start_campaign(runtime, jobs, campaign_id) == len(PEOPLE)
        [(_name, args, _job_id)] = jobs.jobs
        async with engine.connect() as holder:
            transaction = await holder.begin()
            await holder.execute(
                sa.select(deliveries.c.id)
                .where(deliveries.c.subscriber_id == ids["eva@example.se"])
                .with_for_update()
            )
            sending = asyncio.create_task(
                campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))
            )
            for _ in range(200):
                if await _claim_waits_for_a_lock(engine):
                    break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the claim never started")
            # The resident is answered "unsubscribed" while the claim is under way.
            await set_subscription(settings.database_url, ids["eva@example.se"], "unsubscribed")
            await transaction.commit()
        await asyncio.wait_for(sending, 20)
    finally:
        await engine.dispose()
        await runtime.close()
    assert smtp_server.to("eva@example.se") == []
    assert len(smtp_server.to("anne@example.dk")) == 1
    rows = await ledger(settings.database_url, campaign_id)
    assert rows[ids["eva@example.se"]]["status"] == "skipped"
    assert rows[ids["anne@example.dk"]]["status"] == "sent"
