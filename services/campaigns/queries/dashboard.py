"""Figures for the overview: campaigns under way, the last results, confirmed sign-ups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.stats import _utc_day as utc_day
from shared.clock import aware
from shared.schema import campaign_runs, campaigns, subscriptions
from shared.statuses import RunState


@dataclass(frozen=True, slots=True)
class CampaignBrief:
    """A campaign as the overview lists it, its status as stored (any value, known or not)."""

    id: int
    subject: str
    status: str
    send_requested_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FinishedCampaign:
    """A campaign whose run the mailer finished, with when and for how many recipients."""

    id: int
    subject: str
    recipients: int
    finished_at: datetime


def _maybe(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


async def campaigns_in_status(
    session: AsyncSession, statuses: Sequence[str], limit: int
) -> list[CampaignBrief]:
    """Campaigns whose stored status is one of ``statuses``, most recently changed first."""
    result = await session.execute(
        sa.select(
            campaigns.c.id,
            campaigns.c.subject,
            campaigns.c.status,
            campaigns.c.send_requested_at,
            campaigns.c.updated_at,
        )
        .where(campaigns.c.status.in_(statuses))
        .order_by(campaigns.c.updated_at.desc(), campaigns.c.id.desc())
        .limit(limit)
    )
    return [
        CampaignBrief(
            id=int(row["id"]),
            subject=str(row["subject"]),
            status=str(row["status"]),
            send_requested_at=_maybe(row["send_requested_at"]),
            updated_at=aware(row["updated_at"]),
        )
        for row in result.mappings()
    ]


async def finished_campaigns(
    session: AsyncSession, statuses: Sequence[str], limit: int
) -> list[FinishedCampaign]:
    """The campaigns in ``statuses`` whose run the mailer completed, latest finish first."""
    result = await session.execute(
        sa.select(
            campaigns.c.id,
            campaigns.c.subject,
            campaign_runs.c.recipients,
            campaign_runs.c.finished_at,
        )
        .join(campaign_runs, campaign_runs.c.campaign_id == campaigns.c.id)
        .where(
            campaigns.c.status.in_(statuses),
            campaign_runs.c.finished_at.is_not(None),
            campaign_runs.c.state != RunState.FAILED,
        )
        .order_by(campaign_runs.c.finished_at.desc(), campaigns.c.id.desc())
        .limit(limit)
    )
    return [
        FinishedCampaign(
            id=int(row["id"]),
            subject=str(row["subject"]),
            recipients=int(row["recipients"]),
            finished_at=aware(row["finished_at"]),
        )
        for row in result.mappings()
    ]


async def confirmed_per_day(session: AsyncSession, since: datetime) -> dict[date, int]:
    """Distinct residents per UTC day who confirmed a subscription since ``since``."""
    day = utc_day(session, subscriptions.c.confirmed_at)
    result = await session.execute(
        sa.select(day, sa.func.count(sa.distinct(subscriptions.c.subscriber_id)))
        .where(subscriptions.c.confirmed_at >= since)
        .group_by(day)
    )
    return {date.fromisoformat(str(day_text)): int(number) for day_text, number in result.all()}


async def confirmed_per_site(session: AsyncSession, since: datetime) -> dict[int | None, int]:
    """Distinct residents per member site (None: no site) who confirmed since ``since``."""
    result = await session.execute(
        sa.select(
            subscriptions.c.source_site_id,
            sa.func.count(sa.distinct(subscriptions.c.subscriber_id)),
        )
        .where(subscriptions.c.confirmed_at >= since)
        .group_by(subscriptions.c.source_site_id)
    )
    return {
        int(site_id) if site_id is not None else None: int(number)
        for site_id, number in result.all()
    }


async def confirmed_per_list(session: AsyncSession, since: datetime) -> dict[int, int]:
    """Residents per list id whose subscription to it was confirmed since ``since``."""
    result = await session.execute(
        sa.select(subscriptions.c.list_id, sa.func.count())
        .where(subscriptions.c.confirmed_at >= since)
        .group_by(subscriptions.c.list_id)
    )
    return {int(list_id): int(number) for list_id, number in result.all()}


async def subscriptions_per_site(session: AsyncSession) -> dict[int, dict[str, int]]:
    """Subscriptions that came in through each member site, by status."""
    result = await session.execute(
        sa.select(subscriptions.c.source_site_id, subscriptions.c.status, sa.func.count())
        .where(subscriptions.c.source_site_id.is_not(None))
        .group_by(subscriptions.c.source_site_id, subscriptions.c.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for site_id, status, number in result.all():
        counts.setdefault(int(site_id), {})[str(status)] = int(number)
    return counts
