"""The outbox sweep: forget the kept mails the mailer has finished, replay those Redis lost.

Every kept mail's job is in one of three states, read from Redis in one round trip per page:
- finished: arq keeps the job's result (and the mailer its sent mark) for an hour, long after
  the sweep's next run; the kept mail is forgotten;
- queued, deferred for a retry, or running: its job key exists; nothing to do;
- no trace at all: Redis lost it (FLUSHALL, a replica promoted empty). The mail is enqueued
  again under the same job id, so a sweep racing another sweep still queues it once.
A kept mail whose resident is no longer active (erased, blocked, bounced) is forgotten unsent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import msgspec
import structlog
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subscriptions import queries
from services.subscriptions.outbox import enqueue_mail
from shared.clock import utcnow
from shared.contracts import OutboundMail
from shared.jobs import JobQueue
from shared.queues import TRANSACTIONAL_SENT_MARK_PREFIX

log = structlog.get_logger(__name__)

PAGE = 500
# A mail younger than this is left alone: its job was enqueued before its row was committed,
# and gets these seconds to be picked up before the sweep looks at it.
SETTLE_SECONDS = 10.0
# Kept this long without ever being seen finished, a mail is given up (and said so in the log).
GIVE_UP_AFTER = timedelta(days=3)


@dataclass
class SweepResult:
    """What one sweep did."""

    finished: int = 0
    waiting: int = 0
    replayed: int = 0
    dropped: int = 0


async def sweep_outbox(
    sessions: async_sessionmaker[AsyncSession],
    redis: Redis,
    jobs: JobQueue,
    *,
    settle_seconds: float = SETTLE_SECONDS,
) -> SweepResult:
    """One pass over the outbox, a page at a time."""
    result = SweepResult()
    now = utcnow()
    created_before = now - timedelta(seconds=settle_seconds)
    after_id = 0
    while True:
        async with sessions() as session, session.begin():
            page = await queries.get_outbox_page(
                session, created_before=created_before, after_id=after_id, limit=PAGE
            )
        if not page:
            return result
        after_id = page[-1].id
        mails = [msgspec.json.decode(row.mail, type=OutboundMail) for row in page]
        traces = await _traces(redis, page, mails)
        forget: list[int] = []
        replayed: list[int] = []
        for row, mail, (finished, pending) in zip(page, mails, traces, strict=True):
            if finished:
                result.finished += 1
                forget.append(row.id)
            elif not row.reachable or now - row.created_at > GIVE_UP_AFTER:
                result.dropped += 1
                forget.append(row.id)
                if row.reachable:
                    log.warning("outbox.given_up", job=row.job_id)
            elif pending:
                result.waiting += 1
            else:
                await enqueue_mail(jobs, mail)
                result.replayed += 1
                replayed.append(row.id)
                log.warning("outbox.replayed", job=row.job_id)
        async with sessions() as session, session.begin():
            await queries.delete_outbox_mails(session, forget)
            await queries.count_outbox_replays(session, replayed)


async def _traces(
    redis: Redis, page: list[queries.OutboxRow], mails: list[OutboundMail]
) -> list[tuple[bool, bool]]:
    """(finished, pending) of each row's job, read in one pipeline."""
    async with redis.pipeline(transaction=False) as pipe:
        for row, mail in zip(page, mails, strict=True):
            sent_mark = TRANSACTIONAL_SENT_MARK_PREFIX + mail.message_key
            pipe.exists(result_key_prefix + row.job_id, sent_mark)
            pipe.exists(job_key_prefix + row.job_id, in_progress_key_prefix + row.job_id)
        answers = await pipe.execute()
    return [(bool(answers[i]), bool(answers[i + 1])) for i in range(0, len(answers), 2)]
