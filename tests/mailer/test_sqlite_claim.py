"""SQLite: a job stopped while its chunk's claim runs on the writer thread gives the rows back."""

from __future__ import annotations

import asyncio

import pytest

from services.mailer import campaign_delivery, fanout, queries
from services.mailer.runtime import MailerRuntime
from shared.clock import utcnow
from shared.segment_sql import Context
from shared.settings import Settings
from tests.mailer.seed import Person, ledger, seed
from tests.mailer.support import FAST, BatchCollector

PEOPLE = [Person(f"r{n}@example.dk", f"R{n}", "da", {"kultur": "confirmed"}) for n in range(5)]


async def test_a_claim_stopped_midway_puts_its_rows_back_in_the_queue(settings: Settings) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the writer thread is SQLite's")
    campaign_id, _ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
    runtime = MailerRuntime.start(settings, FAST)
    try:
        assert runtime.ledger_writer is not None
        assert await fanout.start_campaign(runtime, BatchCollector(), campaign_id) == len(PEOPLE)
        rows = await ledger(settings.database_url, campaign_id)
        delivery_ids = sorted(int(str(row["id"])) for row in rows.values())
        async with runtime.engine.connect() as conn:
            audience = await queries.campaign_audience(conn, campaign_id)
        in_audience = audience.condition(Context(utcnow(), exclude_campaign=campaign_id))
        claiming = asyncio.create_task(
            campaign_delivery._claim_on_writer(runtime.ledger_writer, delivery_ids, in_audience)
        )
        await asyncio.sleep(0)  # the claim is handed to the writer thread
        claiming.cancel()
        with pytest.raises(asyncio.CancelledError):
            await claiming
    finally:
        await runtime.close()
    rows = await ledger(settings.database_url, campaign_id)
    assert {row["status"] for row in rows.values()} == {"queued"}
    assert {row["attempts"] for row in rows.values()} == {0}
