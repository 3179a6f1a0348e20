"""send_transactional over a real Redis, a burst worker and the recording SMTP server."""

from __future__ import annotations

from arq.jobs import JobResult
from redis.asyncio import Redis

from services.mailer.worker import run_worker
from shared.contracts import OutboundMail
from shared.jobs import create_job_pool, enqueue
from shared.queues import SEND_TRANSACTIONAL, TRANSACTIONAL_QUEUE
from shared.settings import Settings
from tests.mailer.support import FAST
from tests.support.smtp import RecordingSMTPServer

MAIL = OutboundMail(
    message_key="confirm:abc123",
    category="confirm",
    to="Åse Sørensen <ase@example.dk>",
    subject="Bekræft din tilmelding, Åse – æøå äö",
    text="Hej Åse Sørensen,\n\nbekræft her: http://subscriptions.test/confirm/" + "x" * 120,
    html="<p>Hej Åse Sørensen, æøå äö</p>",
    headers={"Auto-Submitted": "auto-generated", "Subject": "ignored"},
)


async def _enqueue(settings: Settings, mail: OutboundMail) -> None:
    pool = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    await enqueue(pool, SEND_TRANSACTIONAL, mail)
    await pool.aclose()


async def _results(settings: Settings) -> list[JobResult]:
    pool = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    results = await pool.all_job_results()
    await pool.aclose()
    return results


async def test_transactional_mail_arrives_intact(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    await _enqueue(settings, MAIL)
    await _enqueue(settings, MAIL)  # same message key: delivered once
    await run_worker(settings, burst=True, options=FAST)

    [received] = smtp_server.messages
    assert received.rcpt_tos == ["ase@example.dk"]
    assert received.mail_from == "nyhedsbrev@kultur.test"
    message = received.parsed()
    assert message["Subject"] == MAIL.subject
    assert message["To"].addresses[0].display_name == "Åse Sørensen"
    assert message["From"].addresses[0].display_name == "KulturMetropolØresund"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].startswith("<tx.") and message["Date"]
    assert message["List-Unsubscribe"] is None
    assert len(message.get_all("Subject") or []) == 1
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n").rstrip("\n") == MAIL.text
    assert "æøå äö" in html.get_content()
    assert b"base64" not in received.data.lower()
    assert all(len(line) <= 998 for line in received.data.split(b"\r\n"))


async def test_permanent_refusal_is_not_retried(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    smtp_server.handler.fail_rcpt["nobody@example.dk"] = "550 5.1.1 no such user"
    await _enqueue(
        settings,
        OutboundMail(
            message_key="k1", category="test", to="nobody@example.dk", subject="x", text="x"
        ),
    )
    await run_worker(settings, burst=True, options=FAST)
    assert smtp_server.messages == []
    results = await _results(settings)
    assert [r.result for r in results] == ["failed: 550 5.1.1 no such user"]
    assert [r.job_try for r in results] == [1]


async def test_temporary_failure_is_retried_with_backoff(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    smtp_server.handler.fail_rcpt["later@example.dk"] = "451 4.3.0 try later"
    await _enqueue(
        settings,
        OutboundMail(
            message_key="k2", category="test", to="later@example.dk", subject="x", text="x"
        ),
    )
    await run_worker(settings, burst=True, options=FAST)
    results = await _results(settings)
    # Tried max_attempts times, then given up (no mail lost silently: the result says why).
    assert [(r.job_try, r.result) for r in results] == [(3, "failed: 451 4.3.0 try later")]


async def test_a_mail_the_relay_took_is_not_sent_again_by_a_rerun(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    mail = OutboundMail(message_key="k3", category="test", to="a@example.dk", subject="x", text="x")
    await _enqueue(settings, mail)
    await run_worker(settings, burst=True, options=FAST)
    # The same mail again under another job id, as when arq re-runs a job after a crash.
    pool = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    await pool.enqueue_job(
        SEND_TRANSACTIONAL.name, SEND_TRANSACTIONAL.encode(mail), _queue_name=TRANSACTIONAL_QUEUE
    )
    await pool.aclose()
    await run_worker(settings, burst=True, options=FAST)
    assert len(smtp_server.messages) == 1
    assert "already sent" in [r.result for r in await _results(settings)]
