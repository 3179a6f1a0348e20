"""SMTP failures in campaigns: 5xx fails a row, 4xx retries with backoff up to the horizon."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from services.mailer.worker import run_worker
from shared.settings import Settings
from tests.mailer.seed import Person, ledger, seed
from tests.mailer.support import FAST, enqueue_start
from tests.support.smtp import RecordingSMTPServer

PEOPLE = [
    Person("ok@example.dk", "Ok", "da", {"kultur": "confirmed"}),
    Person("nouser@example.dk", "No", "da", {"kultur": "confirmed"}),
    Person("busy@example.dk", "Busy", "da", {"kultur": "confirmed"}),
    Person("flaky@example.dk", "Flaky", "da", {"kultur": "confirmed"}),
]


async def test_permanent_and_temporary_failures(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    fail = smtp_server.handler.fail_rcpt
    fail["nouser@example.dk"] = "550 5.1.1 no such user"
    fail["busy@example.dk"] = "451 4.3.0 try later"
    fail["flaky@example.dk"] = "452 4.2.2 mailbox full"
    campaign_id, ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
    await enqueue_start(settings, campaign_id)

    async def heal_flaky() -> None:
        # The flaky mailbox recovers once its first attempt has failed.
        for _ in range(1000):
            rows = await ledger(settings.database_url, campaign_id)
            if rows.get(ids["flaky@example.dk"], {}).get("last_code"):
                break
            await asyncio.sleep(0.01)
        fail.pop("flaky@example.dk")

    healer = asyncio.create_task(heal_flaky())
    await run_worker(settings, burst=True, options=FAST)
    await healer

    rows = {
        email: (await ledger(settings.database_url, campaign_id))[i] for email, i in ids.items()
    }
    assert (rows["ok@example.dk"]["status"], rows["ok@example.dk"]["attempts"]) == ("sent", 1)
    nouser = rows["nouser@example.dk"]
    assert (nouser["status"], nouser["attempts"], nouser["last_code"]) == ("failed", 1, 550)
    assert nouser["last_response"] == "5.1.1 no such user"
    busy = rows["busy@example.dk"]
    assert (busy["status"], busy["attempts"], busy["last_code"]) == ("failed", 3, 451)
    flaky = rows["flaky@example.dk"]
    assert (flaky["status"], flaky["attempts"], flaky["last_code"]) == ("sent", 2, 250)
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == [
        "flaky@example.dk",
        "ok@example.dk",
    ]
