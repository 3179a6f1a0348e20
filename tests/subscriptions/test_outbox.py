"""The mail outbox: a confirmation mail whose job Redis lost is sent all the same.

The sign-up answers 202 once its confirmation mail is queued in Redis. A Redis that then loses
its data (FLUSHALL, a replica promoted empty) would lose the mail; the outbox keeps it in the
database until the sweep sees the mailer finished it, and replays it when Redis has no trace.
"""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.mailer.worker import run_worker as run_mailer
from services.subscriptions.outbox_sweep import sweep_outbox
from shared.db import create_sessionmaker
from shared.jobs import create_job_pool
from shared.queues import TRANSACTIONAL_QUEUE
from shared.schema import mail_outbox, subscribers
from shared.settings import Settings
from tests.mailer.support import FAST
from tests.subscriptions.conftest import confirm_token, queued_mails, subscribe_json
from tests.support.smtp import RecordingSMTPServer


async def _kept(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(mail_outbox).order_by(mail_outbox.c.id))
        return [dict(row._mapping) for row in rows]


async def _sweep(settings: Settings, engine: AsyncEngine) -> dict[str, int]:
    jobs = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    try:
        result = await sweep_outbox(create_sessionmaker(engine), jobs, jobs, settle_seconds=0)
    finally:
        await jobs.aclose()
    return {k: v for k, v in vars(result).items() if v}


async def test_a_confirmation_redis_lost_is_replayed_and_sent_once(
    client: httpx.AsyncClient,
    lists: dict[str, int],
    engine: AsyncEngine,
    redis: Redis,
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    response = await subscribe_json(client, email="maja@example.org")
    assert response.status_code == 202
    [queued] = await queued_mails(redis)
    [kept] = await _kept(engine)
    assert kept["job_id"] == f"tx:{queued.message_key}"

    # Nothing to do while the job is queued.
    assert await _sweep(settings, engine) == {"waiting": 1}

    await redis.flushdb()  # Redis loses its data: the job is gone
    assert await _sweep(settings, engine) == {"replayed": 1}
    [replayed] = await queued_mails(redis)
    assert replayed == queued  # the very mail, same key and same confirm link
    assert (await _kept(engine))[0]["replays"] == 1

    await run_mailer(settings, burst=True, options=FAST)
    [message] = smtp_server.messages
    assert message.rcpt_tos == ["maja@example.org"]
    text = message.parsed().get_body(("plain",))
    assert text is not None and confirm_token(queued) in text.get_content()

    # The mailer's result is in Redis: the kept mail is forgotten, and never sent again.
    assert await _sweep(settings, engine) == {"finished": 1}
    assert await _kept(engine) == []
    assert await _sweep(settings, engine) == {}
    await run_mailer(settings, burst=True, options=FAST)
    assert len(smtp_server.messages) == 1


async def test_a_mail_the_mailer_sent_is_not_replayed_after_a_flush(
    client: httpx.AsyncClient,
    lists: dict[str, int],
    engine: AsyncEngine,
    redis: Redis,
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    assert (await subscribe_json(client, email="maja@example.org")).status_code == 202
    await run_mailer(settings, burst=True, options=FAST)
    assert len(smtp_server.messages) == 1
    # Redis empties after the send but before a sweep: the job's result and the mailer's sent
    # mark are gone too, so the sweep cannot tell; what it sees is the one trace kept longest.
    await redis.delete(*[key async for key in redis.scan_iter("arq:result:*")])
    assert await _sweep(settings, engine) == {"finished": 1}  # the sent mark still says so
    assert await _kept(engine) == []
    await run_mailer(settings, burst=True, options=FAST)
    assert len(smtp_server.messages) == 1


async def test_a_kept_mail_of_a_resident_no_longer_active_is_dropped_unsent(
    client: httpx.AsyncClient,
    lists: dict[str, int],
    engine: AsyncEngine,
    redis: Redis,
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    assert (await subscribe_json(client, email="maja@example.org")).status_code == 202
    async with engine.begin() as conn:
        await conn.execute(sa.update(subscribers).values(status="blocked"))
    await redis.flushdb()
    assert await _sweep(settings, engine) == {"dropped": 1}
    assert await _kept(engine) == []
    assert await queued_mails(redis) == []


async def test_an_erased_residents_kept_mails_go_with_the_row(
    client: httpx.AsyncClient, lists: dict[str, int], engine: AsyncEngine
) -> None:
    assert (await subscribe_json(client, email="maja@example.org")).status_code == 202
    assert len(await _kept(engine)) == 1
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        await conn.execute(sa.delete(subscribers))
    assert await _kept(engine) == []
