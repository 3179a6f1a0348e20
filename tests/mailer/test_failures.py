"""SMTP failures in campaigns: 5xx fails a row, 4xx retries with backoff up to the horizon."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter

import sqlalchemy as sa
from redis.asyncio import Redis

from services.mailer.worker import run_worker
from shared.contracts import StartCampaign, to_job_arg
from shared.jobs import create_job_pool
from shared.queues import BULK_QUEUE, JOB_RESUME_CAMPAIGN
from shared.schema import campaign_runs
from shared.settings import Settings
from tests.mailer.seed import Person, fetch, ledger, seed
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


async def test_campaign_pauses_when_too_much_fails_and_resumes(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    people = [Person(f"p{n}@example.dk", f"P{n}", "da", {"kultur": "confirmed"}) for n in range(6)]
    for person in people[:3]:  # the first batch (3 rows) all bounce
        smtp_server.handler.fail_rcpt[person.email] = "554 5.7.1 rejected as spam"
    campaign_id, _ids = await seed(settings.database_url, people, campaign_lists_=("kultur",))
    # One batch at a time, so the second waits until the first has judged the campaign.
    options = dataclasses.replace(FAST, pause_failure_rate=0.5, pause_min_sample=3, bulk_max_jobs=1)
    await enqueue_start(settings, campaign_id)
    await run_worker(settings, burst=True, options=options)

    statuses = Counter(
        r["status"] for r in (await ledger(settings.database_url, campaign_id)).values()
    )
    assert statuses == {"failed": 3, "queued": 3}
    [run] = await fetch(settings.database_url, sa.select(campaign_runs))
    assert (run["state"], run["finished_at"]) == ("paused", None)
    assert smtp_server.messages == []

    # Staff fix the cause and resume: the rest goes out, the run finishes.
    smtp_server.handler.fail_rcpt.clear()
    pool = await create_job_pool(settings.redis_url, BULK_QUEUE)
    await pool.enqueue_job(
        JOB_RESUME_CAMPAIGN,
        to_job_arg(StartCampaign(campaign_id=campaign_id)),
        _queue_name=BULK_QUEUE,
    )
    await pool.aclose()
    await run_worker(settings, burst=True, options=options)
    statuses = Counter(
        r["status"] for r in (await ledger(settings.database_url, campaign_id)).values()
    )
    assert statuses == {"failed": 3, "sent": 3}
    [run] = await fetch(settings.database_url, sa.select(campaign_runs))
    assert run["state"] == "done"
