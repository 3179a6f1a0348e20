"""A mailer process killed with SIGKILL mid-campaign: nobody is lost, duplicates only where
the ledger could not know (rows still 'sending' at the moment of death)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port
from services.mailer.reconcile import reconcile
from services.mailer.runtime import MailerRuntime
from services.mailer.worker import run_worker
from shared.jobs import create_job_pool
from shared.queues import BULK_QUEUE
from shared.schema import campaign_runs
from shared.settings import Settings, SmtpSettings
from tests.conftest import TEST_SECRET
from tests.mailer.seed import Person, fetch, ledger, seed
from tests.mailer.support import FAST, enqueue_start
from tests.support.smtp import RecordingHandler, RecordingSMTPServer

PEOPLE = [Person(f"r{n:02d}@example.dk", f"R{n}", "da", {"kultur": "confirmed"}) for n in range(30)]


class SlowHandler(RecordingHandler):
    """Takes a while to accept each message, so that a kill lands mid-batch."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        await asyncio.sleep(0.03)
        return await super().handle_DATA(server, session, envelope)


async def test_sigkill_mid_campaign_loses_nobody(settings: Settings, redis: Redis) -> None:
    smtp = RecordingSMTPServer(free_port())
    smtp.handler = SlowHandler()
    smtp._controller.handler = smtp.handler  # the controller hands sessions this handler
    smtp.start()
    try:
        settings = Settings(**{**vars(settings), "smtp": SmtpSettings("127.0.0.1", smtp.port)})
        campaign_id, ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
        env = {
            **os.environ,
            "BREVDUE_DATABASE_URL": settings.database_url,
            "BREVDUE_REDIS_URL": settings.redis_url,
            "BREVDUE_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}?starttls=off",
            "BREVDUE_SECRET_KEYS": TEST_SECRET.reveal(),
            "BREVDUE_MAIL_FROM": settings.mail_from,
            "BREVDUE_LOG_LEVEL": "WARNING",
            "BREVDUE_MAILER_BATCH_SIZE": "10",
            "BREVDUE_MAILER_CHUNK_SIZE": "5",
            "BREVDUE_MAILER_SMTP_CONNECTIONS": "2",
            "BREVDUE_MAILER_POLL_DELAY": "0.05",
            "BREVDUE_MAILER_JOB_TIMEOUT": "5",
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.mailer", env=env
        )
        try:
            await enqueue_start(settings, campaign_id)
            for _ in range(1000):
                if len(smtp.messages) >= 7:
                    break
                await asyncio.sleep(0.01)
        finally:
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
        assert 7 <= len(smtp.messages) < len(PEOPLE)
        ambiguous = {
            sid
            for sid, row in (await ledger(settings.database_url, campaign_id)).items()
            if row["status"] == "sending"
        }
        # Time passes: the dead worker's in-progress keys expire, the reconciler runs.
        for key in await redis.keys("arq:in-progress:*"):
            await redis.delete(key)
        runtime = MailerRuntime.start(settings, FAST)
        pool = await create_job_pool(settings.redis_url, BULK_QUEUE)
        try:
            later = datetime.now(UTC) + timedelta(minutes=5)
            assert (await reconcile(runtime, pool, now=later)).requeued_sending == len(ambiguous)
        finally:
            await pool.aclose()
            await runtime.close()
        await run_worker(settings, burst=True, options=FAST)

        received = Counter(r for m in smtp.messages for r in m.rcpt_tos)
        assert set(received) == {p.email for p in PEOPLE}  # nobody lost
        twice = {email for email, count in received.items() if count > 1}
        assert {ids[email] for email in twice} <= ambiguous  # duplicates only where unknowable
        assert max(received.values()) <= 2
        rows = await ledger(settings.database_url, campaign_id)
        assert {row["status"] for row in rows.values()} == {"sent"}
        [run] = await fetch(settings.database_url, sa.select(campaign_runs))
        assert run["state"] == "done"
    finally:
        smtp.stop()
