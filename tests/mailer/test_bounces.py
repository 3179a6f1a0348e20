"""VERP return paths, DSN/ARF reading, and reports mailed to the bounce listener reaching the
subscriber: a hard bounce stops them, a complaint unsubscribes them (subscriptions worker)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiosmtplib
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port
from services.mailer import campaign_delivery, fanout
from services.mailer.bounces import classify, parse_verp, verp_address
from services.mailer.inbound import InboundRuntime, start_listener
from services.mailer.runtime import MailerRuntime
from services.subscriptions import worker as subscriptions_worker
from shared.db import create_engine
from shared.queues import DELIVER_BATCH, SUBSCRIPTIONS_QUEUE
from shared.schema import campaign_lists, campaigns, subscribers, subscriptions
from shared.settings import Settings
from tests.mailer.seed import NOW, Person, ledger, seed
from tests.mailer.support import FAST, BatchCollector
from tests.support.smtp import RecordingSMTPServer

SECRET = b"s" * 32
BOUNCE_DOMAIN = "bounce.kultur.test"


def _dsn(to: str, action: str = "failed", status: str = "5.1.1") -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example\r\nTo: {to}\r\nSubject: Undelivered Mail\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; gone@example.dk\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n\r\n"
        "--B--\r\n"
    ).encode()


def test_verp_addresses_are_signed() -> None:
    address = verp_address(SECRET, 12, 345, "bounce.kultur.test")
    assert address.startswith("bounces+c12.s345.")
    assert parse_verp([b"old" * 11, SECRET], address.upper().replace("BOUNCES", "bounces")) == (
        12,
        345,
    )
    assert parse_verp([SECRET], address.replace("s345", "s346")) is None
    assert parse_verp([SECRET], "someone@bounce.kultur.test") is None


def test_reports_are_classified() -> None:
    hard = classify(_dsn("x"))
    assert hard is not None and (hard.kind, hard.status, hard.code) == ("hard", "5.1.1", 550)
    soft = classify(_dsn("x", action="delayed", status="4.2.2"))
    assert soft is not None and soft.kind == "soft"
    complaint = classify(
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n\r\n'
        b"--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
        b"Version: 1\r\n\r\n--F--\r\n"
    )
    assert complaint is not None and complaint.kind == "complaint"
    assert classify(b"Subject: Out of office\r\n\r\nAway until Monday.\r\n") is None


def _arf(to: str) -> bytes:
    return (
        f"From: feedback@mailbox.example\r\nTo: {to}\r\nSubject: Complaint\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n\r\n'
        "--F\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
        "--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: Mailbox/1.0\r\nVersion: 1\r\n\r\n"
        "--F--\r\n"
    ).encode()


@pytest.fixture
async def inbound(settings: Settings) -> AsyncIterator[tuple[InboundRuntime, int]]:
    """The bounces process's runtime with its SMTP listener on a free port."""
    runtime = await InboundRuntime.open(settings)
    port = free_port()
    await start_listener(runtime, "127.0.0.1", port)
    yield runtime, port
    await runtime.close()


async def _mail_report(port: int, report: bytes, to: str) -> None:
    await aiosmtplib.send(
        report, sender="mailer-daemon@mx.example", recipients=[to], hostname="127.0.0.1", port=port
    )


async def test_hard_bounce_over_smtp_stops_the_subscriber_and_later_campaigns(
    settings: Settings,
    smtp_server: RecordingSMTPServer,
    redis: Redis,
    inbound: tuple[InboundRuntime, int],
) -> None:
    people = [
        Person("ok@example.dk", "Ok", "da", {"kultur": "confirmed"}),
        Person("gone@example.dk", "Gone", "da", {"kultur": "confirmed"}),
        Person("unknown@example.dk", "Unknown", "da", {"kultur": "confirmed"}),
    ]
    smtp_server.handler.fail_rcpt["unknown@example.dk"] = "550 5.1.1 no such user"
    first, ids = await seed(settings.database_url, people, campaign_lists_=("kultur",))
    _runtime, port = inbound
    sender = MailerRuntime.start(settings, dataclasses.replace(FAST, bounce_domain=BOUNCE_DOMAIN))
    try:
        await _send(sender, first)
        envelope = {m.rcpt_tos[0]: m.mail_from for m in smtp_server.messages}
        gone = envelope["gone@example.dk"]
        assert gone.startswith(f"bounces+c{first}.s{ids['gone@example.dk']}.")
        # The receiving server bounces later, to the VERP return path (twice: no harm).
        await _mail_report(port, _dsn(gone), gone)
        await _mail_report(port, _dsn(gone), gone)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await _mail_report(port, _dsn("x"), gone.replace(".s", ".s9", 1))
        rows = await ledger(settings.database_url, first)
        assert (
            rows[ids["gone@example.dk"]]["status"],
            rows[ids["gone@example.dk"]]["last_code"],
        ) == (
            "bounced",
            550,
        )
        assert str(rows[ids["gone@example.dk"]]["last_response"]).startswith("bounce 5.1.1")
        assert await redis.zcard(SUBSCRIPTIONS_QUEUE) == 1  # one job for the two reports

        await subscriptions_worker.run_worker(settings, burst=True)
        assert (await _subscriber(settings.database_url, ids["gone@example.dk"]))["status"] == (
            "bounced"
        )

        smtp_server.handler.messages.clear()
        second = await _another_campaign(settings.database_url, first)
        await _send(sender, second)
    finally:
        await sender.close()
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ok@example.dk"]]
    rows = await ledger(settings.database_url, second)
    assert ids["gone@example.dk"] not in rows  # no longer in the audience at all
    assert rows[ids["unknown@example.dk"]]["status"] == "skipped"  # refused at RCPT earlier


async def test_complaint_over_smtp_unsubscribes_everywhere(
    settings: Settings,
    smtp_server: RecordingSMTPServer,
    redis: Redis,
    inbound: tuple[InboundRuntime, int],
) -> None:
    people = [
        Person("ok@example.dk", "Ok", "da", {"kultur": "confirmed"}),
        Person("angry@example.dk", "Angry", "da", {"kultur": "confirmed", "musik": "confirmed"}),
    ]
    first, ids = await seed(settings.database_url, people, campaign_lists_=("kultur",))
    _runtime, port = inbound
    sender = MailerRuntime.start(settings, dataclasses.replace(FAST, bounce_domain=BOUNCE_DOMAIN))
    try:
        await _send(sender, first)
    finally:
        await sender.close()
    envelope = {m.rcpt_tos[0]: m.mail_from for m in smtp_server.messages}
    await _mail_report(port, _arf(envelope["angry@example.dk"]), envelope["angry@example.dk"])
    # A soft bounce of the other one changes nothing and enqueues nothing for it.
    soft = _dsn(envelope["ok@example.dk"], action="delayed", status="4.2.2")
    await _mail_report(port, soft, envelope["ok@example.dk"])

    await subscriptions_worker.run_worker(settings, burst=True)

    angry = ids["angry@example.dk"]
    assert await _subscription_statuses(settings.database_url, angry) == {"unsubscribed"}
    assert await _subscription_statuses(settings.database_url, ids["ok@example.dk"]) == {
        "confirmed"
    }
    rows = await ledger(settings.database_url, first)
    assert rows[angry]["status"] == "bounced"
    assert rows[ids["ok@example.dk"]]["status"] == "sent"


async def _subscriber(database_url: str, subscriber_id: int) -> dict[str, object]:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id))
        ).one()
    await engine.dispose()
    return dict(row._mapping)


async def _subscription_statuses(database_url: str, subscriber_id: int) -> set[str]:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        result = await conn.execute(
            sa.select(subscriptions.c.status).where(subscriptions.c.subscriber_id == subscriber_id)
        )
        statuses = {str(value) for value in result.scalars()}
    await engine.dispose()
    return statuses


async def _send(runtime: MailerRuntime, campaign_id: int) -> None:
    jobs = BatchCollector()
    await fanout.start_campaign(runtime, jobs, campaign_id)
    for _name, args, _job_id in jobs.jobs:
        await campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))


async def _another_campaign(database_url: str, like: int) -> int:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        campaign_id = (
            await conn.execute(
                sa.insert(campaigns).values(
                    subject="Igen",
                    body="<p>Igen</p>",
                    status="sending",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        ).inserted_primary_key[0]
        await conn.execute(
            sa.insert(campaign_lists).from_select(
                ["campaign_id", "list_id"],
                sa.select(sa.literal(campaign_id), campaign_lists.c.list_id).where(
                    campaign_lists.c.campaign_id == like
                ),
            )
        )
    await engine.dispose()
    return int(campaign_id)
