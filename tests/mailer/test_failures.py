"""SMTP failures in campaigns: 5xx fails a row, 4xx retries with backoff up to the horizon."""

from __future__ import annotations

import dataclasses
from collections import Counter

import sqlalchemy as sa
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port
from services.mailer.worker import run_worker
from shared.contracts import StartCampaign
from shared.events import CAMPAIGN_EVENTS_STREAM, decode_campaign_paused
from shared.jobs import create_job_pool
from shared.queues import BULK_QUEUE, RESUME_CAMPAIGN
from shared.schema import campaign_runs
from shared.settings import Settings, SmtpSettings
from tests.mailer.seed import Person, fetch, ledger, seed
from tests.mailer.support import FAST, enqueue_start
from tests.support.smtp import RecordingSMTPServer, ScriptedSMTPServer

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
    # The flaky mailbox recovers after its first refusal, whenever the retry comes.
    smtp_server.handler.fail_once.add("flaky@example.dk")
    campaign_id, ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
    await enqueue_start(settings, campaign_id)
    await run_worker(settings, burst=True, options=FAST)

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
    assert (run["state"], run["finished_at"]) == ("pause_requested", None)
    assert smtp_server.messages == []
    # The campaigns service, owner of the campaign's status, is told why.
    [(_entry_id, fields)] = await redis.xrange(CAMPAIGN_EVENTS_STREAM)
    event = decode_campaign_paused(fields)
    assert event.campaign_id == campaign_id
    assert event.reason.startswith("3 of 3 deliveries failed")

    # Staff fix the cause and resume: the rest goes out, the run finishes.
    smtp_server.handler.fail_rcpt.clear()
    pool = await create_job_pool(settings.redis_url, BULK_QUEUE)
    await pool.enqueue_job(
        RESUME_CAMPAIGN.name,
        RESUME_CAMPAIGN.encode(StartCampaign(campaign_id=campaign_id)),
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


async def test_dropped_and_timed_out_data_lose_nobody(settings: Settings, redis: Redis) -> None:
    """A connection dropped inside DATA and a DATA reply slower than our timeout, once each.

    Both rows are retried and end 'sent' after two attempts; everybody else is accepted
    exactly once. Delivery is at-least-once, not exactly-once: the slow relay had kept the
    message before our timeout gave up on it, so that recipient receives it twice, both copies
    with the same Message-ID (which lets a receiving system drop the duplicate). The dropped
    DATA was never accepted, so that recipient gets it once.
    """
    server = ScriptedSMTPServer(port=free_port(), delay=1.5)
    server.handler.drop_once.add("dropped@example.dk")
    server.handler.slow_once.add("slow@example.dk")
    server.start()
    try:
        settings = dataclasses.replace(
            settings, smtp=SmtpSettings(host="127.0.0.1", port=server.port, timeout=0.5)
        )
        people = [
            Person(f"p{n}@example.dk", f"P{n}", "da", {"kultur": "confirmed"}) for n in range(5)
        ]
        people += [
            Person("dropped@example.dk", "Dropped", "da", {"kultur": "confirmed"}),
            Person("slow@example.dk", "Slow", "da", {"kultur": "confirmed"}),
        ]
        campaign_id, ids = await seed(settings.database_url, people, campaign_lists_=("kultur",))
        await enqueue_start(settings, campaign_id)
        await run_worker(settings, burst=True, options=FAST)
        rows = await ledger(settings.database_url, campaign_id)
        by_email = {email: rows[i] for email, i in ids.items()}
        assert {email: row["status"] for email, row in by_email.items()} == {
            person.email: "sent" for person in people
        }
        for email in ("dropped@example.dk", "slow@example.dk"):
            assert by_email[email]["attempts"] == 2
        for person in people[:5]:
            assert by_email[person.email]["attempts"] == 1
            assert len(server.to(person.email)) == 1
        assert len(server.to("dropped@example.dk")) == 1
        slow = server.to("slow@example.dk")
        assert len(slow) == 2
        assert slow[0].parsed()["Message-ID"] == slow[1].parsed()["Message-ID"]
    finally:
        server.stop()
