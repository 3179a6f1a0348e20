"""VERP return paths, DSN/ARF reading, the bounce listener and hard-bounce suppression."""

from __future__ import annotations

import dataclasses

import aiosmtplib
import pytest
import sqlalchemy as sa

from brevdue_cli.redis_server import free_port
from services.mailer import delivery, fanout
from services.mailer.bounces import classify, parse_verp, verp_address
from services.mailer.runtime import MailerRuntime
from shared.contracts import DeliverBatch, from_job_arg
from shared.db import create_engine
from shared.schema import campaign_lists, campaigns
from shared.settings import Settings
from tests.mailer.seed import NOW, Person, ledger, seed
from tests.mailer.support import FAST, BatchCollector
from tests.support.smtp import RecordingSMTPServer

SECRET = b"s" * 32


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


async def test_bounce_suppresses_the_address_in_later_campaigns(
    settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    people = [
        Person("ok@example.dk", "Ok", "da", {"kultur": "confirmed"}),
        Person("gone@example.dk", "Gone", "da", {"kultur": "confirmed"}),
        Person("unknown@example.dk", "Unknown", "da", {"kultur": "confirmed"}),
    ]
    smtp_server.handler.fail_rcpt["unknown@example.dk"] = "550 5.1.1 no such user"
    first, ids = await seed(settings.database_url, people, campaign_lists_=("kultur",))
    port = free_port()
    options = dataclasses.replace(FAST, bounce_domain="bounce.kultur.test", bounce_port=port)
    runtime = MailerRuntime.start(settings, options)
    await runtime.open()
    try:
        await _send(runtime, first)
        envelope = {m.rcpt_tos[0]: m.mail_from for m in smtp_server.messages}
        assert envelope["gone@example.dk"].startswith(
            f"bounces+c{first}.s{ids['gone@example.dk']}."
        )
        # The receiving server bounces later, to the VERP return path.
        await aiosmtplib.send(
            _dsn(envelope["gone@example.dk"]),
            sender="mailer-daemon@mx.example",
            recipients=[envelope["gone@example.dk"]],
            hostname="127.0.0.1",
            port=port,
        )
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await aiosmtplib.send(
                _dsn("x"),
                sender="mailer-daemon@mx.example",
                recipients=[envelope["gone@example.dk"].replace(".s", ".s9", 1)],
                hostname="127.0.0.1",
                port=port,
            )
        rows = await ledger(settings.database_url, first)
        gone = rows[ids["gone@example.dk"]]
        assert (gone["status"], gone["last_code"]) == ("bounced", 550)
        assert gone["last_response"].startswith("bounce 5.1.1")

        smtp_server.handler.messages.clear()
        second = await _another_campaign(settings.database_url, first)
        await _send(runtime, second)
    finally:
        await runtime.close()
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ok@example.dk"]]
    rows = await ledger(settings.database_url, second)
    assert rows[ids["gone@example.dk"]]["status"] == "skipped"
    assert rows[ids["unknown@example.dk"]]["status"] == "skipped"


async def _send(runtime: MailerRuntime, campaign_id: int) -> None:
    jobs = BatchCollector()
    await fanout.start_campaign(runtime, jobs, campaign_id)
    for _name, args, _job_id in jobs.jobs:
        await delivery.deliver_batch(runtime, from_job_arg(DeliverBatch, args[0]))


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
