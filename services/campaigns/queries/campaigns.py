"""Campaigns and the lists they go to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import aware, utcnow
from shared.schema import (
    campaign_lists,
    campaign_runs,
    campaign_variants,
    campaigns,
    mailing_lists,
)
from shared.statuses import CampaignStatus, RunState


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """A campaign as this service stores it; its lists and the mailer's run are read apart."""

    id: int
    subject: str
    body: str
    body_text: str | None
    from_address: str | None
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime
    send_requested_at: datetime | None
    # Why the mailer asked for a pause (None when staff paused it, or it is not paused).
    pause_reason: str | None = None
    # When a scheduled campaign starts (or was to start) and the zone staff chose it in.
    scheduled_at: datetime | None = None
    schedule_zone: str | None = None
    # How the body was written and what was written (None: ``body`` is the template as
    # written), its layout, and the language of its own text when it has variants.
    body_format: str | None = None
    body_source: str | None = None
    layout: str | None = None
    fallback_language: str | None = None
    # Whether its mail carries an open-tracking image; whether it is in the public archive.
    track_opens: bool = False
    archive_public: bool = False
    # A subject test's winner, once picked, and when (see subject_tests.py).
    test_winner: int | None = None
    test_decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VariantRow:
    """A campaign's subject and body in one more language (body: the compiled template)."""

    language: str
    subject: str
    body: str
    body_source: str | None
    body_text: str | None


def _campaign(row: RowMapping) -> CampaignRow:
    requested = row["send_requested_at"]
    scheduled = row["scheduled_at"]
    return CampaignRow(
        id=int(row["id"]),
        subject=str(row["subject"]),
        body=str(row["body"]),
        body_text=row["body_text"],
        from_address=row["from_address"],
        status=CampaignStatus(row["status"]),
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        send_requested_at=aware(requested) if requested is not None else None,
        pause_reason=row["pause_reason"],
        scheduled_at=aware(scheduled) if scheduled is not None else None,
        schedule_zone=row["schedule_zone"],
        body_format=row["body_format"],
        body_source=row["body_source"],
        layout=row["layout"],
        fallback_language=row["fallback_language"],
        track_opens=bool(row["track_opens"]),
        archive_public=bool(row["archive_public"]),
        test_winner=None if row["test_winner"] is None else int(row["test_winner"]),
        test_decided_at=aware(decided) if (decided := row["test_decided_at"]) else None,
    )


async def variants_of(session: AsyncSession, campaign_id: int) -> list[VariantRow]:
    """A campaign's language variants, by language."""
    result = await session.execute(
        sa.select(campaign_variants)
        .where(campaign_variants.c.campaign_id == campaign_id)
        .order_by(campaign_variants.c.language)
    )
    return [
        VariantRow(
            language=str(row["language"]),
            subject=str(row["subject"]),
            body=str(row["body"]),
            body_source=row["body_source"],
            body_text=row["body_text"],
        )
        for row in result.mappings()
    ]


async def replace_variants(
    session: AsyncSession, campaign_id: int, variants: Sequence[VariantRow]
) -> None:
    """Make ``variants`` the campaign's variants, and only those."""
    await session.execute(
        sa.delete(campaign_variants).where(campaign_variants.c.campaign_id == campaign_id)
    )
    if variants:
        await session.execute(
            sa.insert(campaign_variants),
            [
                {
                    "campaign_id": campaign_id,
                    "language": variant.language,
                    "subject": variant.subject,
                    "body": variant.body,
                    "body_source": variant.body_source,
                    "body_text": variant.body_text,
                }
                for variant in variants
            ],
        )


async def insert_campaign(
    session: AsyncSession, values: Mapping[str, Any], list_ids: Iterable[int]
) -> int:
    """Create a draft campaign addressed to ``list_ids``; return its id."""
    now = utcnow()
    result = await session.execute(
        sa.insert(campaigns)
        .values(**values, status=CampaignStatus.DRAFT, created_at=now, updated_at=now)
        .returning(campaigns.c.id)
    )
    campaign_id = int(result.scalar_one())
    await _set_campaign_lists(session, campaign_id, list_ids)
    return campaign_id


async def update_draft(
    session: AsyncSession,
    campaign_id: int,
    values: Mapping[str, Any],
    list_ids: Iterable[int] | None,
) -> bool:
    """Change a campaign only while it is a draft; False when it is not (or is gone)."""
    result = await session.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status == CampaignStatus.DRAFT)
        .values(**values, updated_at=utcnow())
    )
    if rowcount(result) == 0:
        return False
    if list_ids is not None:
        await session.execute(
            sa.delete(campaign_lists).where(campaign_lists.c.campaign_id == campaign_id)
        )
        await _set_campaign_lists(session, campaign_id, list_ids)
    return True


async def _set_campaign_lists(
    session: AsyncSession, campaign_id: int, list_ids: Iterable[int]
) -> None:
    rows = [{"campaign_id": campaign_id, "list_id": list_id} for list_id in list_ids]
    if rows:
        await session.execute(sa.insert(campaign_lists), rows)


async def mark_sending(
    session: AsyncSession,
    campaign_id: int,
    when: datetime,
    from_status: CampaignStatus = CampaignStatus.DRAFT,
) -> bool:
    """Move a draft (or a due scheduled campaign) to sending; the WHERE clause makes this the
    one gate against double sends, across requests and scheduler replicas alike."""
    condition = [campaigns.c.id == campaign_id, campaigns.c.status == from_status]
    if from_status == CampaignStatus.SCHEDULED:
        condition.append(campaigns.c.scheduled_at <= when)
    # A campaign with a subject test first sends its sample: it is testing.
    status = sa.case(
        (campaigns.c.test_sample_percent.is_not(None), CampaignStatus.TESTING),
        else_=CampaignStatus.SENDING,
    )
    result = await session.execute(
        sa.update(campaigns)
        .where(*condition)
        .values(status=status, send_requested_at=when, updated_at=when)
    )
    return rowcount(result) == 1


async def unmark_sending(
    session: AsyncSession,
    campaign_id: int,
    when: datetime,
    back_to: CampaignStatus = CampaignStatus.DRAFT,
) -> None:
    """Undo ``mark_sending`` of this request (matched by its time) when the job was not queued."""
    await session.execute(
        sa.update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status.in_([CampaignStatus.SENDING, CampaignStatus.TESTING]),
            campaigns.c.send_requested_at == when,
        )
        .values(status=back_to, send_requested_at=None, updated_at=utcnow())
    )


async def mark_scheduled(
    session: AsyncSession, campaign_id: int, at: datetime, zone: str, when: datetime
) -> bool:
    """Give a draft or an already scheduled campaign its start time; False in any other state."""
    result = await session.execute(
        sa.update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status.in_([CampaignStatus.DRAFT, CampaignStatus.SCHEDULED]),
        )
        .values(
            status=CampaignStatus.SCHEDULED, scheduled_at=at, schedule_zone=zone, updated_at=when
        )
    )
    return rowcount(result) == 1


async def unmark_scheduled(session: AsyncSession, campaign_id: int, when: datetime) -> bool:
    """Turn a campaign still waiting for its time back into a draft; False once it started."""
    result = await session.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status == CampaignStatus.SCHEDULED)
        .values(status=CampaignStatus.DRAFT, scheduled_at=None, schedule_zone=None, updated_at=when)
    )
    return rowcount(result) == 1


async def due_campaign_ids(session: AsyncSession, now: datetime, limit: int = 100) -> list[int]:
    """Scheduled campaigns whose time has come, earliest first."""
    result = await session.execute(
        sa.select(campaigns.c.id)
        .where(campaigns.c.status == CampaignStatus.SCHEDULED, campaigns.c.scheduled_at <= now)
        .order_by(campaigns.c.scheduled_at, campaigns.c.id)
        .limit(limit)
    )
    return [int(campaign_id) for campaign_id in result.scalars()]


async def campaign_by_id(session: AsyncSession, campaign_id: int) -> CampaignRow | None:
    """One campaign row."""
    result = await session.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id))
    row = result.mappings().first()
    return _campaign(row) if row is not None else None


def _with_status(query: sa.Select[Any], status: str | None) -> sa.Select[Any]:
    """Only campaigns whose status as staff see it (campaigns.effective_status) is ``status``:
    a campaign stored as sending is sent once its run finished, failed once its run failed."""
    if status is None:
        return query
    run = campaign_runs.c
    failed_run = sa.exists().where(run.campaign_id == campaigns.c.id, run.state == RunState.FAILED)
    finished_run = sa.exists().where(
        run.campaign_id == campaigns.c.id,
        run.state != RunState.FAILED,
        run.finished_at.is_not(None),
    )
    sending = campaigns.c.status == CampaignStatus.SENDING
    if status == CampaignStatus.SENDING:
        return query.where(sending, ~failed_run, ~finished_run)
    if status == CampaignStatus.FAILED:
        return query.where(sa.or_(campaigns.c.status == status, sa.and_(sending, failed_run)))
    if status == CampaignStatus.SENT:
        return query.where(sa.or_(campaigns.c.status == status, sa.and_(sending, finished_run)))
    return query.where(campaigns.c.status == status)


async def campaign_page(
    session: AsyncSession, limit: int, offset: int, status: str | None = None
) -> list[CampaignRow]:
    """A page of campaigns (those stored with ``status``, if given), newest first."""
    result = await session.execute(
        _with_status(sa.select(campaigns), status)
        .order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_campaign(row) for row in result.mappings()]


async def count_campaigns(session: AsyncSession, status: str | None = None) -> int:
    """How many campaigns exist (stored with ``status``, if given)."""
    result = await session.execute(
        _with_status(sa.select(sa.func.count()).select_from(campaigns), status)
    )
    return int(result.scalar_one())


async def list_slugs_of(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, list[str]]:
    """The list slugs each campaign is addressed to, sorted."""
    result = await session.execute(
        sa.select(campaign_lists.c.campaign_id, mailing_lists.c.slug)
        .join(mailing_lists, mailing_lists.c.id == campaign_lists.c.list_id)
        .where(campaign_lists.c.campaign_id.in_(campaign_ids))
        .order_by(mailing_lists.c.slug)
    )
    slugs: dict[int, list[str]] = {campaign_id: [] for campaign_id in campaign_ids}
    for campaign_id, slug in result.all():
        slugs[int(campaign_id)].append(slug)
    return slugs


async def change_status(
    session: AsyncSession,
    campaign_id: int,
    from_statuses: Sequence[str],
    to: str,
    when: datetime,
    *,
    pause_reason: str | None = None,
) -> bool:
    """Move a campaign between statuses; the WHERE clause makes concurrent requests take turns.

    Every move sets ``pause_reason``: None unless the campaign goes (back) to a mailer's pause.
    """
    result = await session.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status.in_(from_statuses))
        .values(status=to, pause_reason=pause_reason, updated_at=when)
    )
    return rowcount(result) == 1


async def pause_for_mailer(
    session: AsyncSession, campaign_id: int, reason: str, when: datetime
) -> bool:
    """Pause a campaign whose run asked for it, with the mailer's reason; True if it changed.

    A campaign still sending is paused; one staff paused before the request keeps its status
    and gains the reason. A campaign whose row changed after the request (staff resumed it,
    whether or not its resume job has run) is left alone, so an event read twice cannot pause
    it again.
    """
    pause_requested = (
        sa.exists()
        .where(campaign_runs.c.campaign_id == campaigns.c.id)
        .where(campaign_runs.c.state == RunState.PAUSE_REQUESTED)
        .where(campaign_runs.c.finished_at.is_(None))
        .where(campaigns.c.updated_at <= campaign_runs.c.pause_requested_at)
    )
    not_told = sa.or_(
        campaigns.c.status == CampaignStatus.SENDING,
        sa.and_(campaigns.c.status == CampaignStatus.PAUSED, campaigns.c.pause_reason.is_(None)),
    )
    result = await session.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, not_told, pause_requested)
        .values(status=CampaignStatus.PAUSED, pause_reason=reason, updated_at=when)
    )
    return rowcount(result) == 1
