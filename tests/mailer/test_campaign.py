"""Campaign fan-out and delivery over real Redis, SMTP and both databases."""

from __future__ import annotations

import contextlib
import dataclasses
import re

import sqlalchemy as sa
from redis.asyncio import Redis

from services.mailer import campaign_delivery, fanout
from services.mailer.mime import campaign_message_id
from services.mailer.runtime import MailerRuntime
from services.mailer.worker import run_worker
from shared.errors import QueueUnavailable
from shared.jobs import create_job_pool
from shared.links import UnsubscribeLink, read_unsubscribe
from shared.queues import BULK_QUEUE, DELIVER_BATCH
from shared.schema import campaign_lists, campaign_runs
from shared.settings import Settings
from shared.tokens import TokenSigner
from tests.mailer.seed import Person, fetch, ledger, seed, set_subscription, suppress
from tests.mailer.support import FAST, BatchCollector, enqueue_start
from tests.support.smtp import RecordingSMTPServer

CONFIRMED = [
    Person(
        "anne@example.dk", "Anne Sørensen", "da", {"kultur": "confirmed", "idraet": "confirmed"}
    ),
    Person("bjorn@example.se", "Björn Åkesson", "sv", {"kultur": "confirmed"}),
    Person("carl@example.org", "Carl Ng", "en", {"idraet": "confirmed", "musik": "pending"}),
    Person("dina@example.dk", None, "da", {"kultur": "unsubscribed", "idraet": "confirmed"}),
    Person("eva@example.se", "Eva", "sv", {"kultur": "confirmed"}),
    Person("finn@example.dk", "Finn", "da", {"idraet": "confirmed"}),
    Person("gry@example.dk", "Gry", "da", {"kultur": "confirmed"}),
]
NOT_AUDIENCE = [
    Person("pending@example.dk", "P", "da", {"kultur": "pending"}),
    Person("gone@example.dk", "G", "da", {"kultur": "unsubscribed", "idraet": "unsubscribed"}),
    Person("other@example.dk", "O", "da", {"musik": "confirmed"}),
    Person("blocked@example.dk", "B", "da", {"kultur": "confirmed"}, status="blocked"),
]
SUBJECT = "Kulturnyt: sommer på Øresund for {{ subscriber.name }}"
BODY = "<html><body><p>Hej {{ subscriber.name }}, här är nyheterna: æøå äö</p></body></html>"


async def test_campaign_reaches_each_confirmed_subscriber_once(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    campaign_id, ids = await seed(
        settings.database_url, CONFIRMED + NOT_AUDIENCE, subject=SUBJECT, body=BODY
    )
    await enqueue_start(settings, campaign_id)
    # One burst run must also process the deliver_batch jobs that start_campaign enqueues.
    await run_worker(settings, burst=True, options=FAST)

    received = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert received == sorted(p.email for p in CONFIRMED)
    rows = await ledger(settings.database_url, campaign_id)
    assert sorted(rows) == sorted(ids[p.email] for p in CONFIRMED)
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert all(row["attempts"] == 1 and row["last_code"] == 250 for row in rows.values())
    assert all(row["sent_at"] is not None for row in rows.values())
    # Written by the database, the Message-IDs are the ones the bounce handler recomputes.
    assert all(
        row["message_id"] == campaign_message_id(campaign_id, subscriber_id, "kultur.test")
        for subscriber_id, row in rows.items()
    )
    [run] = await fetch(settings.database_url, sa.select(campaign_runs))
    assert run["state"] == "done" and run["recipients"] == len(CONFIRMED)
    assert run["fanned_out_at"] is not None and run["finished_at"] is not None

    signer = TokenSigner(settings.secret_keys)
    anne = smtp_server.to("anne@example.dk")[0]
    message = anne.parsed()
    assert message["Subject"] == "Kulturnyt: sommer på Øresund for Anne Sørensen"
    assert message["Message-ID"] == rows[ids["anne@example.dk"]]["message_id"]
    message_id = rf"<c{campaign_id}\.s\d+\.[0-9a-f]{{16}}@kultur\.test>"
    assert re.fullmatch(message_id, message["Message-ID"])
    assert message["Precedence"] == "bulk" and message["List-Id"] and message["Feedback-ID"]
    # Every header on one line; List-Unsubscribe as a plain link, never encoded words.
    [line] = [x for x in anne.data.split(b"\r\n") if x.lower().startswith(b"list-unsubscribe:")]
    match = re.fullmatch(rb"List-Unsubscribe: <(http://subscriptions\.test/unsubscribe/\S+)>", line)
    assert match, line
    assert b"=?utf-8?" not in line.lower()
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in anne.data
    assert b"content-transfer-encoding: base64" not in anne.data.lower()
    assert b"Content-Transfer-Encoding: quoted-printable" in anne.data
    header_block = anne.data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"\r\n[ \t]", header_block), "no folded header lines"
    url = match.group(1).decode()
    token = url.rsplit("/", 1)[1]
    # The link leaves the lists this campaign went to, read back as the subscriptions service
    # reads it.
    campaign_list_ids = await fetch(
        settings.database_url,
        sa.select(campaign_lists.c.list_id).where(campaign_lists.c.campaign_id == campaign_id),
    )
    assert read_unsubscribe(signer, token) == UnsubscribeLink(
        "key0000", campaign_id, tuple(sorted(row["list_id"] for row in campaign_list_ids))
    )
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert url in text.get_content() and url in html.get_content()
    assert "Afmeld" in text.get_content()
    assert "æøå äö" in html.get_content() and html.get_content().rstrip().endswith("</html>")
    assert (
        "Avsluta"
        in smtp_server.to("bjorn@example.se")[0].parsed().get_body(("plain",)).get_content()
    )  # type: ignore[union-attr]

    # Re-running the fan-out (a crash after it finished, or a re-sent job) sends nothing more.
    await enqueue_start(settings, campaign_id, tag="again")
    await run_worker(settings, burst=True, options=FAST)
    assert len(smtp_server.messages) == len(CONFIRMED)
    assert len(await ledger(settings.database_url, campaign_id)) == len(CONFIRMED)


async def test_unsubscribed_mid_campaign_gets_nothing(
    settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    campaign_id, ids = await seed(settings.database_url, CONFIRMED)
    runtime = MailerRuntime.start(settings, FAST)
    jobs = BatchCollector()
    try:
        assert await fanout.start_campaign(runtime, jobs, campaign_id) == len(CONFIRMED)
        await set_subscription(settings.database_url, ids["eva@example.se"], "unsubscribed")
        for _name, args, _job_id in jobs.jobs:
            await campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))
    finally:
        await runtime.close()
    assert smtp_server.to("eva@example.se") == []
    assert len(smtp_server.messages) == len(CONFIRMED) - 1
    rows = await ledger(settings.database_url, campaign_id)
    assert rows[ids["eva@example.se"]]["status"] == "skipped"
    assert rows[ids["eva@example.se"]]["attempts"] == 0
    [run] = await fetch(settings.database_url, sa.select(campaign_runs))
    assert run["state"] == "done"


async def test_an_address_suppressed_mid_campaign_gets_nothing(
    settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    # Erased under another spelling after the fan-out: the row may still be there, but the
    # mailbox's digest is on the suppression list, and that is checked at send time.
    campaign_id, ids = await seed(settings.database_url, CONFIRMED)
    runtime = MailerRuntime.start(settings, FAST)
    jobs = BatchCollector()
    try:
        assert await fanout.start_campaign(runtime, jobs, campaign_id) == len(CONFIRMED)
        await suppress(settings.database_url, "Eva@EXAMPLE.se")
        for _name, args, _job_id in jobs.jobs:
            await campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))
    finally:
        await runtime.close()
    assert smtp_server.to("eva@example.se") == []
    assert len(smtp_server.messages) == len(CONFIRMED) - 1
    rows = await ledger(settings.database_url, campaign_id)
    assert rows[ids["eva@example.se"]]["status"] == "skipped"
    [run] = await fetch(settings.database_url, sa.select(campaign_runs))
    assert run["state"] == "done"


async def test_fan_out_crash_and_rerun_sends_each_once(
    settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    campaign_id, _ids = await seed(settings.database_url, CONFIRMED)
    runtime = MailerRuntime.start(settings, FAST)
    try:
        crashing = BatchCollector(fail_after=1)
        with contextlib.suppress(QueueUnavailable):
            await fanout.start_campaign(runtime, crashing, campaign_id)
        # The one batch that got out runs before the re-run of the fan-out.
        for _name, args, _job_id in crashing.jobs:
            await campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))
        rerun = BatchCollector()
        assert await fanout.start_campaign(runtime, rerun, campaign_id) == len(CONFIRMED)
        # Overlapping jobs (same ids twice) still send each row once: the claim decides.
        for _name, args, _job_id in crashing.jobs + rerun.jobs + rerun.jobs:
            await campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))
    finally:
        await runtime.close()
    received = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert received == sorted(p.email for p in CONFIRMED)
    rows = await ledger(settings.database_url, campaign_id)
    assert len(rows) == len(CONFIRMED)
    assert {row["status"] for row in rows.values()} == {"sent"}


async def test_fan_out_dying_before_a_window_is_enqueued_resumes_with_it(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    campaign_id, _ids = await seed(settings.database_url, CONFIRMED + NOT_AUDIENCE)
    runtime = MailerRuntime.start(settings, FAST)
    try:
        # The second window's rows are committed, then Redis goes away before its batches.
        crashing = BatchCollector(fail_after=1)
        with contextlib.suppress(QueueUnavailable):
            await fanout.start_campaign(runtime, crashing, campaign_id)
        for _name, args, _job_id in crashing.jobs:
            await campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))
        # The re-run enqueues that window's rows again (one pipeline) and goes on from there.
        pool = await create_job_pool(settings.redis_url, BULK_QUEUE)
        try:
            assert await fanout.start_campaign(runtime, pool, campaign_id) == len(CONFIRMED)
        finally:
            await pool.aclose()
    finally:
        await runtime.close()
    await run_worker(settings, burst=True, options=FAST)
    received = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert received == sorted(p.email for p in CONFIRMED)
    rows = await ledger(settings.database_url, campaign_id)
    assert {row["status"] for row in rows.values()} == {"sent"}


async def test_inactive_first_page_idn_and_bad_addresses(
    settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    blocked = [
        Person(f"b{n}@example.dk", "B", "da", {"kultur": "confirmed"}, status="blocked")
        for n in range(4)
    ]
    people = [
        *blocked,  # more than a whole page (3) of inactive subscribers comes first
        Person("åse@example.dk", "Åse", "da", {"kultur": "confirmed"}),
        Person("ole@øresund.dk", "Ole", "da", {"kultur": "confirmed"}),
    ]
    campaign_id, ids = await seed(settings.database_url, people, campaign_lists_=("kultur",))
    runtime = MailerRuntime.start(settings, FAST)
    jobs = BatchCollector()
    try:
        assert await fanout.start_campaign(runtime, jobs, campaign_id) == 2
        for _name, args, _job_id in jobs.jobs:
            await campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))
    finally:
        await runtime.close()
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ole@xn--resund-9xa.dk"]]
    rows = await ledger(settings.database_url, campaign_id)
    # A non-ASCII local part needs SMTPUTF8, which is not used: failed, not retried forever.
    assert rows[ids["åse@example.dk"]]["status"] == "failed"
    assert rows[ids["ole@øresund.dk"]]["status"] == "sent"


async def test_a_long_fan_out_continues_over_several_runs(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    campaign_id, _ids = await seed(settings.database_url, CONFIRMED + NOT_AUDIENCE)
    await enqueue_start(settings, campaign_id)
    # A budget so small that each run of start_campaign writes one page (3) and re-runs.
    await run_worker(settings, burst=True, options=dataclasses.replace(FAST, fanout_budget=1e-6))
    received = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert received == sorted(p.email for p in CONFIRMED)
    [run] = await fetch(settings.database_url, sa.select(campaign_runs))
    assert (run["state"], run["recipients"]) == ("done", len(CONFIRMED))
