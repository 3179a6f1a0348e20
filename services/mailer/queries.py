"""Every SQL statement of the mailer (SQLAlchemy Core over shared.schema).

The mailer writes only its own tables (deliveries, campaign_runs) and reads the campaigns and
subscriptions services' tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.mailer.content import CampaignSource, Recipient
from shared.schema import (
    campaign_lists,
    campaign_runs,
    campaigns,
    deliveries,
    mailing_lists,
    subscribers,
    subscriptions,
)

QUEUED, SENDING, SENT, FAILED, SKIPPED = "queued", "sending", "sent", "failed", "skipped"
RUN_FANNING_OUT, RUN_SENDING, RUN_DONE = "fanning_out", "sending", "done"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed ledger row."""

    delivery_id: int
    status: str
    code: int | None
    response: str | None
    sent_at: datetime | None = None


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    # ON CONFLICT DO NOTHING is dialect-specific in SQLAlchemy Core.
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# --- campaigns and audience (read only) -----------------------------------------------------


async def get_campaign(conn: AsyncConnection, campaign_id: int) -> CampaignSource | None:
    """The campaign's content and the slugs of its lists, or None."""
    row = (
        (await conn.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id)))
        .mappings()
        .first()
    )
    if row is None:
        return None
    slugs = (
        (
            await conn.execute(
                sa.select(mailing_lists.c.slug)
                .join(campaign_lists, campaign_lists.c.list_id == mailing_lists.c.id)
                .where(campaign_lists.c.campaign_id == campaign_id)
                .order_by(mailing_lists.c.slug)
            )
        )
        .scalars()
        .all()
    )
    return CampaignSource(
        id=int(row["id"]),
        subject=row["subject"],
        body=row["body"],
        body_text=row["body_text"],
        from_address=row["from_address"],
        list_slugs=tuple(slugs),
        updated_at=row["updated_at"],
    )


async def campaign_list_ids(conn: AsyncConnection, campaign_id: int) -> list[int]:
    """Ids of the lists a campaign targets."""
    result = await conn.execute(
        sa.select(campaign_lists.c.list_id).where(campaign_lists.c.campaign_id == campaign_id)
    )
    return [int(value) for value in result.scalars().all()]


def _member_of(list_ids: Sequence[int]) -> sa.Exists:
    # Still confirmed in at least one of the campaign's lists.
    return (
        sa.exists()
        .where(subscriptions.c.subscriber_id == subscribers.c.id)
        .where(subscriptions.c.list_id.in_(list_ids))
        .where(subscriptions.c.status == "confirmed")
    )


async def audience_page(
    conn: AsyncConnection, list_ids: Sequence[int], after_id: int, limit: int
) -> tuple[list[int], int | None]:
    """Next keyset page of the audience: (active subscriber ids, last id scanned or None).

    Driven by the subscriptions index (list_id, status, subscriber_id): DISTINCT confirmed
    subscriber ids above ``after_id`` in id order, then only those whose subscriber is active.
    The cursor is the last id scanned, so a page of inactive subscribers does not end the scan.
    """
    candidates = [
        int(value)
        for value in (
            await conn.execute(
                sa.select(subscriptions.c.subscriber_id)
                .where(subscriptions.c.list_id.in_(list_ids))
                .where(subscriptions.c.status == "confirmed")
                .where(subscriptions.c.subscriber_id > after_id)
                .group_by(subscriptions.c.subscriber_id)
                .order_by(subscriptions.c.subscriber_id)
                .limit(limit)
            )
        ).scalars()
    ]
    if not candidates:
        return [], None
    active = await conn.execute(
        sa.select(subscribers.c.id)
        .where(subscribers.c.id.in_(candidates))
        .where(subscribers.c.status == "active")
        .order_by(subscribers.c.id)
    )
    return [int(value) for value in active.scalars()], candidates[-1]


# --- campaign runs ---------------------------------------------------------------------------


async def ensure_run(conn: AsyncConnection, campaign_id: int, now: datetime) -> None:
    """Create the campaign's run row unless it exists."""
    statement = _insert(conn, campaign_runs).values(
        campaign_id=campaign_id, state=RUN_FANNING_OUT, recipients=0, started_at=now
    )
    await conn.execute(statement.on_conflict_do_nothing(index_elements=["campaign_id"]))


async def mark_fanned_out(conn: AsyncConnection, campaign_id: int, now: datetime) -> int:
    """Record the recipient count and the end of fan-out; return the count."""
    count = int(
        (
            await conn.execute(
                sa.select(sa.func.count()).where(deliveries.c.campaign_id == campaign_id)
            )
        ).scalar_one()
    )
    await conn.execute(
        sa.update(campaign_runs)
        .where(campaign_runs.c.campaign_id == campaign_id)
        .where(campaign_runs.c.finished_at.is_(None))
        .values(recipients=count, fanned_out_at=now, state=RUN_SENDING)
    )
    return count


async def finish_if_done(conn: AsyncConnection, campaign_id: int, now: datetime) -> bool:
    """Mark the run done when fan-out is over and no row waits; True if this call did it."""
    pending = (
        sa.exists()
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.status.in_([QUEUED, SENDING]))
    )
    result = await conn.execute(
        sa.update(campaign_runs)
        .where(campaign_runs.c.campaign_id == campaign_id)
        .where(campaign_runs.c.fanned_out_at.is_not(None))
        .where(campaign_runs.c.finished_at.is_(None))
        .where(~pending)
        .values(state=RUN_DONE, finished_at=now)
    )
    return bool(result.rowcount)


# --- the ledger ------------------------------------------------------------------------------


async def insert_deliveries(
    conn: AsyncConnection, campaign_id: int, rows: Sequence[tuple[int, str]], now: datetime
) -> None:
    """Insert queued rows for (subscriber id, Message-ID) pairs; existing ones are kept."""
    if not rows:
        return
    values = [
        {
            "campaign_id": campaign_id,
            "subscriber_id": subscriber_id,
            "status": QUEUED,
            "attempts": 0,
            "message_id": message_id,
            "queued_at": now,
            "updated_at": now,
        }
        for subscriber_id, message_id in rows
    ]
    # executemany: compiled once, batched by the driver (a multi-VALUES literal of 500 rows
    # costs more to compile than to run).
    statement = _insert(conn, deliveries).on_conflict_do_nothing(
        index_elements=["campaign_id", "subscriber_id"]
    )
    await conn.execute(statement, values)


async def queued_ids_between(
    conn: AsyncConnection, campaign_id: int, first_subscriber: int, last_subscriber: int
) -> list[int]:
    """Ids of still-queued rows for a range of subscriber ids, in id order."""
    result = await conn.execute(
        sa.select(deliveries.c.id)
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.subscriber_id.between(first_subscriber, last_subscriber))
        .where(deliveries.c.status == QUEUED)
        .order_by(deliveries.c.id)
    )
    return [int(value) for value in result.scalars().all()]


async def load_queued(
    conn: AsyncConnection, campaign_id: int, delivery_ids: Sequence[int], list_ids: Sequence[int]
) -> list[tuple[Recipient, bool]]:
    """Queued rows of a batch with their subscriber and whether they may still be mailed."""
    eligible = sa.and_(subscribers.c.status == "active", _member_of(list_ids))
    result = await conn.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.subscriber_id,
            deliveries.c.message_id,
            deliveries.c.attempts,
            subscribers.c.key,
            subscribers.c.email,
            subscribers.c.name,
            subscribers.c.language,
            sa.case((eligible, True), else_=False).label("eligible"),
        )
        .select_from(
            deliveries.outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        )
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.id.in_(delivery_ids))
        .where(deliveries.c.status == QUEUED)
        .order_by(deliveries.c.id)
    )
    rows: list[tuple[Recipient, bool]] = []
    for row in result.all():
        recipient = Recipient(
            delivery_id=int(row.id),
            subscriber_id=int(row.subscriber_id),
            key=row.key or "",
            email=row.email or "",
            name=row.name,
            language=row.language or "da",
            message_id=row.message_id,
            attempts=int(row.attempts),
        )
        rows.append((recipient, bool(row.eligible) and row.key is not None))
    return rows


async def mark_skipped(conn: AsyncConnection, delivery_ids: Sequence[int], now: datetime) -> None:
    """Rows whose subscriber left before their turn: never sent."""
    if delivery_ids:
        await conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id.in_(delivery_ids))
            .where(deliveries.c.status == QUEUED)
            .values(status=SKIPPED, updated_at=now)
        )


async def claim(conn: AsyncConnection, delivery_ids: Sequence[int], now: datetime) -> set[int]:
    """Move queued rows to 'sending' and return those this call moved (and may now send)."""
    if not delivery_ids:
        return set()
    result = await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.id.in_(delivery_ids))
        .where(deliveries.c.status == QUEUED)
        .values(status=SENDING, attempts=deliveries.c.attempts + 1, updated_at=now)
        .returning(deliveries.c.id)
    )
    return {int(value) for value in result.scalars().all()}


async def record_outcomes(
    conn: AsyncConnection, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Write what happened to claimed rows, in one executemany."""
    if not outcomes:
        return
    await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.id == sa.bindparam("b_id"))
        .where(deliveries.c.status == SENDING)
        .values(
            status=sa.bindparam("b_status"),
            last_code=sa.bindparam("b_code"),
            last_response=sa.bindparam("b_response"),
            sent_at=sa.bindparam("b_sent_at"),
            updated_at=now,
        ),
        [
            {
                "b_id": outcome.delivery_id,
                "b_status": outcome.status,
                "b_code": outcome.code,
                "b_response": (outcome.response or "")[:500] or None,
                "b_sent_at": outcome.sent_at,
            }
            for outcome in outcomes
        ],
    )


async def release(conn: AsyncConnection, delivery_ids: Sequence[int], now: datetime) -> None:
    """Give claimed rows that were never attempted back to the queue."""
    if delivery_ids:
        await conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id.in_(delivery_ids))
            .where(deliveries.c.status == SENDING)
            .values(status=QUEUED, attempts=deliveries.c.attempts - 1, updated_at=now)
        )


@dataclass(frozen=True, slots=True)
class Run:
    """A campaign's run row."""

    state: str
    recipients: int
    fanned_out_at: datetime | None
    finished_at: datetime | None


async def get_run(conn: AsyncConnection, campaign_id: int) -> Run | None:
    """The campaign's run row, if any."""
    row = (
        (
            await conn.execute(
                sa.select(campaign_runs).where(campaign_runs.c.campaign_id == campaign_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Run(row["state"], int(row["recipients"]), row["fanned_out_at"], row["finished_at"])


# --- reconciliation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActiveRun:
    """A campaign run that has not finished."""

    campaign_id: int
    started_at: datetime
    fanned_out: bool


async def requeue_stuck_sending(conn: AsyncConnection, before: datetime, now: datetime) -> int:
    """Rows left in 'sending' by a job that died go back to the queue; return how many."""
    result = await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.status == SENDING)
        .where(deliveries.c.updated_at < before)
        .values(status=QUEUED, updated_at=now, last_response="re-queued: sender stopped mid-send")
    )
    return int(result.rowcount)


async def active_runs(conn: AsyncConnection) -> list[ActiveRun]:
    """Runs not finished yet."""
    result = await conn.execute(
        sa.select(
            campaign_runs.c.campaign_id, campaign_runs.c.started_at, campaign_runs.c.fanned_out_at
        ).where(campaign_runs.c.finished_at.is_(None))
    )
    return [
        ActiveRun(int(row.campaign_id), row.started_at, row.fanned_out_at is not None)
        for row in result.all()
    ]


async def unstarted_campaigns(conn: AsyncConnection, before: datetime) -> list[int]:
    """Campaigns staff sent before ``before`` that have no run row (their start job was lost)."""
    has_run = sa.exists().where(campaign_runs.c.campaign_id == campaigns.c.id)
    result = await conn.execute(
        sa.select(campaigns.c.id)
        .where(campaigns.c.status == "sending")
        .where(campaigns.c.send_requested_at < before)
        .where(~has_run)
    )
    return [int(value) for value in result.scalars().all()]


async def queued_page(
    conn: AsyncConnection, campaign_id: int, after_id: int, limit: int
) -> list[int]:
    """Next page (keyset on id) of a campaign's queued rows."""
    result = await conn.execute(
        sa.select(deliveries.c.id)
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.status == QUEUED)
        .where(deliveries.c.id > after_id)
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    return [int(value) for value in result.scalars().all()]
