"""Scheduled campaigns: staff give a start time; a scheduler in every campaigns replica starts
each campaign once when its time has come.

Starting is the same step as "send now" (``campaigns.start_sending``): one conditional UPDATE
from scheduled to sending, so of all replicas polling at once exactly one wins, then the
fan-out job. A campaign whose time passed while no replica ran is due at the first poll after
start-up. When Redis cannot be reached the campaign stays scheduled and is tried again at the
next poll. A start cut off between its two steps (a replica stopped there) leaves a campaign
sending without a run, which the mailer's reconciler starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.campaigns import queries, staff_audit
from services.campaigns.campaigns import (
    campaign_row,
    check_sendable,
    get_campaign,
    start_sending,
)
from services.campaigns.errors import Conflict, Unavailable
from services.campaigns.render_pool import RenderPool
from services.campaigns.schedule_times import start_time
from services.campaigns.schemas import CampaignOut
from services.campaigns.sending_schemas import ScheduleRequest
from services.campaigns.subject_tests import decide_due
from shared.clock import utcnow
from shared.jobs import JobQueue
from shared.statuses import CampaignStatus

log = structlog.get_logger(__name__)

_SCHEDULABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


async def schedule_campaign(
    session: AsyncSession, renderer: RenderPool, campaign_id: int, request: ScheduleRequest
) -> CampaignOut:
    """Give a draft (or a scheduled campaign, again) its start time; stored in UTC.

    422 for a time past, nonexistent or ambiguous in the zone, or a campaign that cannot be
    sent; 409 once it is sending or over.
    """
    row = await campaign_row(session, campaign_id)
    _require(row, "scheduled", _SCHEDULABLE)
    now = utcnow()
    at = start_time(request.at, request.zone, now)
    await check_sendable(session, renderer, row)
    if not await queries.mark_scheduled(session, campaign_id, at, request.zone, now):
        await session.rollback()
        _require(await campaign_row(session, campaign_id), "scheduled", ())
    await session.commit()
    log.info("campaign.scheduled", campaign_id=campaign_id, at=at.isoformat())
    return await get_campaign(session, campaign_id)


async def unschedule_campaign(session: AsyncSession, campaign_id: int) -> CampaignOut:
    """Turn a campaign still waiting for its time back into a draft; 409 once it started."""
    row = await campaign_row(session, campaign_id)
    _require(row, "unscheduled", (CampaignStatus.SCHEDULED,))
    if not await queries.unmark_scheduled(session, campaign_id, utcnow()):
        await session.rollback()
        _require(await campaign_row(session, campaign_id), "unscheduled", ())
    await session.commit()
    log.info("campaign.unscheduled", campaign_id=campaign_id)
    return await get_campaign(session, campaign_id)


async def start_due(session: AsyncSession, jobs: JobQueue, now: datetime) -> list[int]:
    """Start every scheduled campaign whose time has come; the ids this caller started."""
    started: list[int] = []
    for campaign_id in await queries.due_campaign_ids(session, now):
        await session.rollback()  # each start is its own transaction
        if await start_sending(session, jobs, campaign_id, CampaignStatus.SCHEDULED):
            await staff_audit.record(
                session,
                staff_audit.SYSTEM,
                "campaign.send",
                f"campaign:{campaign_id}",
                {"scheduled": True},
            )
            await session.commit()
            started.append(campaign_id)
    return started


class Scheduler:
    """The polling loop of one replica, started and stopped by the app's lifespan."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        jobs: JobQueue,
        interval: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.jobs = jobs
        self.interval = interval
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin polling (the first poll is at once: a time passed while down is due now)."""
        self._task = asyncio.create_task(self._run(), name="campaign-scheduler")

    async def stop(self) -> None:
        """Stop polling; a start in progress is cancelled between its steps."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def poll(self) -> list[int]:
        """One look for due campaigns (the ids started) and subject tests due a winner."""
        async with self.sessionmaker() as session:
            started = await start_due(session, self.jobs, self.clock())
        async with self.sessionmaker() as session:
            decided = await decide_due(session, self.jobs, self.clock())
        if decided:
            log.info("scheduler.subject_tests_decided", campaigns=decided)
        return started

    async def _run(self) -> None:
        while True:
            try:
                started = await self.poll()
                if started:
                    log.info("scheduler.started", campaigns=started)
            except Unavailable as exc:
                log.warning("scheduler.queue_unavailable", error=exc.message)
            except Exception as exc:
                log.warning("scheduler.poll_failed", error=repr(exc)[:300])
            await asyncio.sleep(self.interval)


def _require(row: queries.CampaignRow, action: str, allowed: tuple[CampaignStatus, ...]) -> None:
    if row.status not in allowed:
        raise Conflict(
            f"campaign {row.id} is {row.status}; it cannot be {action}", {"status": row.status}
        )
