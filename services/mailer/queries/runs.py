"""Campaign runs (campaign_runs): fan-out and completion of a campaign's send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.mailer.queries.common import insert_ignoring
from shared.schema import campaign_runs, campaigns, deliveries
from shared.statuses import CampaignStatus, DeliveryStatus, RunState


async def ensure_run(conn: AsyncConnection, campaign_id: int, now: datetime) -> None:
    """Create the campaign's run row unless it exists."""
    statement = insert_ignoring(conn, campaign_runs).values(
        campaign_id=campaign_id, state=RunState.FANNING_OUT, recipients=0, started_at=now
    )
    await conn.execute(statement.on_conflict_do_nothing(index_elements=["campaign_id"]))


async def fail_run(conn: AsyncConnection, campaign_id: int, now: datetime, reason: str) -> None:
    """Record that the campaign cannot be sent, and why; a finished run is never restarted."""
    await ensure_run(conn, campaign_id, now)
    await conn.execute(
        sa.update(campaign_runs)
        .where(campaign_runs.c.campaign_id == campaign_id)
        .where(campaign_runs.c.finished_at.is_(None))
        .values(state=RunState.FAILED, finished_at=now, failure=reason[:2000])
    )


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
        .values(
            recipients=count,
            fanned_out_at=now,
            # A pause requested during fan-out stays requested.
            state=sa.case(
                (campaign_runs.c.state == RunState.PAUSE_REQUESTED, RunState.PAUSE_REQUESTED),
                else_=RunState.SENDING,
            ),
        )
    )
    return count


async def finish_if_done(conn: AsyncConnection, campaign_id: int, now: datetime) -> bool:
    """Mark the run done when fan-out is over and no row waits; True if this call did it."""
    return bool((await conn.execute(_finish_if_done(campaign_id, now))).rowcount)


def finish_run_if_done(conn: sa.Connection, campaign_id: int, now: datetime) -> bool:
    """``finish_if_done`` on a blocking connection (SQLite's writer thread)."""
    return bool(conn.execute(_finish_if_done(campaign_id, now)).rowcount)


def _finish_if_done(campaign_id: int, now: datetime) -> sa.UpdateBase:
    pending = (
        sa.exists()
        .where(deliveries.c.campaign_id == campaign_id)
        .where(deliveries.c.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]))
    )
    return (
        sa.update(campaign_runs)
        .where(campaign_runs.c.campaign_id == campaign_id)
        .where(campaign_runs.c.fanned_out_at.is_not(None))
        .where(campaign_runs.c.finished_at.is_(None))
        .where(~pending)
        .values(state=RunState.DONE, finished_at=now)
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


@dataclass(frozen=True, slots=True)
class ActiveRun:
    """A campaign run that has not finished."""

    campaign_id: int
    started_at: datetime
    fanned_out: bool


async def active_runs(conn: AsyncConnection) -> list[ActiveRun]:
    """Runs neither finished nor paused."""
    paused = (
        sa.exists()
        .where(campaigns.c.id == campaign_runs.c.campaign_id)
        .where(campaigns.c.status == CampaignStatus.PAUSED)
    )
    result = await conn.execute(
        sa.select(
            campaign_runs.c.campaign_id, campaign_runs.c.started_at, campaign_runs.c.fanned_out_at
        )
        .where(campaign_runs.c.finished_at.is_(None))
        # A run that asked to be paused, or a paused campaign, waits for a person.
        .where(campaign_runs.c.state != RunState.PAUSE_REQUESTED)
        .where(~paused)
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
        .where(campaigns.c.status.in_([CampaignStatus.SENDING, CampaignStatus.TESTING]))
        .where(campaigns.c.send_requested_at < before)
        .where(~has_run)
    )
    return [int(value) for value in result.scalars().all()]


async def run_state(conn: AsyncConnection, campaign_id: int) -> str | None:
    """The run's state, or None when the campaign has no run."""
    result = await conn.execute(
        sa.select(campaign_runs.c.state).where(campaign_runs.c.campaign_id == campaign_id)
    )
    state = result.scalar()
    return None if state is None else str(state)


async def request_pause(conn: AsyncConnection, campaign_id: int, now: datetime) -> bool:
    """Stop claiming a running campaign's mail; True if this call asked for the pause."""
    result = await conn.execute(
        sa.update(campaign_runs)
        .where(campaign_runs.c.campaign_id == campaign_id)
        .where(campaign_runs.c.finished_at.is_(None))
        .where(campaign_runs.c.state.in_([RunState.FANNING_OUT, RunState.SENDING]))
        .values(state=RunState.PAUSE_REQUESTED, pause_requested_at=now)
    )
    return bool(result.rowcount)


async def clear_pause_request(conn: AsyncConnection, campaign_id: int) -> bool:
    """Let the campaign's mail be claimed again; True if a pause had been requested."""
    result = await conn.execute(
        sa.update(campaign_runs)
        .where(campaign_runs.c.campaign_id == campaign_id)
        .where(campaign_runs.c.state == RunState.PAUSE_REQUESTED)
        .values(
            state=sa.case(
                (campaign_runs.c.fanned_out_at.is_(None), RunState.FANNING_OUT),
                else_=RunState.SENDING,
            ),
            pause_requested_at=None,
        )
    )
    return bool(result.rowcount)


async def pause_requests_unseen(conn: AsyncConnection) -> list[int]:
    """Campaigns whose run asked for a pause that the campaign's row does not show yet.

    A campaign still sending whose row has not changed since the request; one staff resumed
    after it (its resume job not yet run) has, and is left alone.
    """
    result = await conn.execute(
        sa.select(campaign_runs.c.campaign_id)
        .join(campaigns, campaigns.c.id == campaign_runs.c.campaign_id)
        .where(campaign_runs.c.state == RunState.PAUSE_REQUESTED)
        .where(campaign_runs.c.finished_at.is_(None))
        .where(campaigns.c.status == CampaignStatus.SENDING)
        .where(campaigns.c.updated_at < campaign_runs.c.pause_requested_at)
        .order_by(campaign_runs.c.campaign_id)
    )
    return [int(value) for value in result.scalars().all()]


async def reopen_for_rest(conn: AsyncConnection, campaign_id: int, decided_at: datetime) -> bool:
    """A subject test's run, done with its sample before the winner was picked, fans out
    again (to the rest); True if this call reopened it.

    The reopened run starts at the decision's own time (copied, so no two clocks are
    compared): the campaigns service tells the rest's run from the sample's by it, and a late
    repeat of the job finds nothing to reopen, so it cannot add people who joined since.
    """
    result = await conn.execute(
        sa.update(campaign_runs)
        .where(campaign_runs.c.campaign_id == campaign_id)
        .where(campaign_runs.c.state == RunState.DONE)
        .where(campaign_runs.c.started_at < decided_at)
        .values(
            state=RunState.FANNING_OUT, started_at=decided_at, fanned_out_at=None, finished_at=None
        )
    )
    return bool(result.rowcount)


async def reopen_run(conn: AsyncConnection, campaign_id: int) -> bool:
    """A finished run goes back to sending (failed rows were queued again); True if it was done."""
    result = await conn.execute(
        sa.update(campaign_runs)
        .where(campaign_runs.c.campaign_id == campaign_id)
        .where(campaign_runs.c.finished_at.is_not(None))
        .values(state=RunState.SENDING, finished_at=None)
    )
    return bool(result.rowcount)
