"""The mail outbox: residents' mails kept until the mailer is known to have them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import aware
from shared.db import conflict_insert
from shared.schema import mail_outbox, subscribers
from shared.statuses import SubscriberStatus


@dataclass(frozen=True)
class OutboxRow:
    """A kept mail, with whether its resident may still be written to."""

    id: int
    job_id: str
    mail: str
    created_at: datetime
    reachable: bool


async def insert_outbox_mail(
    session: AsyncSession, *, job_id: str, subscriber_id: int, mail: str, now: datetime
) -> None:
    """Keep a mail (JSON) under its job id; the same job id twice is kept once."""
    values = {"job_id": job_id, "subscriber_id": subscriber_id, "mail": mail, "created_at": now}
    await session.execute(_keep_mail(session.get_bind().dialect.name), values)


@cache
def _keep_mail(dialect: str) -> Any:
    # Built once per dialect (every pending sign-up runs it); the values come with the call.
    insert = conflict_insert(dialect, mail_outbox)
    return insert.on_conflict_do_nothing(index_elements=[mail_outbox.c.job_id])


async def get_outbox_page(
    session: AsyncSession, *, created_before: datetime, after_id: int, limit: int
) -> list[OutboxRow]:
    """Up to ``limit`` kept mails older than ``created_before``, by id after ``after_id``."""
    rows = await session.execute(
        sa.select(
            mail_outbox.c.id,
            mail_outbox.c.job_id,
            mail_outbox.c.mail,
            mail_outbox.c.created_at,
            (subscribers.c.status == SubscriberStatus.ACTIVE).label("reachable"),
        )
        .join(subscribers, subscribers.c.id == mail_outbox.c.subscriber_id)
        .where(mail_outbox.c.created_at < created_before, mail_outbox.c.id > after_id)
        .order_by(mail_outbox.c.id)
        .limit(limit)
    )
    return [
        OutboxRow(int(r.id), r.job_id, r.mail, aware(r.created_at), bool(r.reachable)) for r in rows
    ]


async def delete_outbox_mails(session: AsyncSession, ids: Collection[int]) -> None:
    """Forget kept mails."""
    if ids:
        await session.execute(sa.delete(mail_outbox).where(mail_outbox.c.id.in_(sorted(ids))))


async def count_outbox_replays(session: AsyncSession, ids: Collection[int]) -> None:
    """Count one more replay of each kept mail."""
    if ids:
        await session.execute(
            sa.update(mail_outbox)
            .where(mail_outbox.c.id.in_(sorted(ids)))
            .values(replays=mail_outbox.c.replays + 1)
        )
