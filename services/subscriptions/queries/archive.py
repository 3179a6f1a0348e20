"""The public archive and "view in the browser" as the public side reads them: campaigns,
their lists and the mailer's runs (owned by the campaigns service and the mailer)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import (
    campaign_lists,
    campaign_runs,
    campaign_variants,
    campaigns,
    digest_blocks,
    mailing_lists,
)
from shared.statuses import CampaignStatus, RunState


@dataclass(frozen=True, slots=True)
class ArchivedCampaign:
    """A campaign's templates as the archive renders them, and when it was sent."""

    id: int
    subject: str
    body: str
    updated_at: object  # part of the cache key of rendered copies
    sent_at: datetime
    archive_public: bool
    # The layout its body was compiled into (its footer carries the reader's links); None: none.
    layout: str | None = None
    # Its subject and body per language variant: the archive page in that language shows them.
    variants: dict[str, tuple[str, str]] = field(default_factory=dict)
    # A digest campaign's block per language for readers of no particular municipality.
    digest: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArchiveList:
    """A public list with its names, for the archive's index and feed."""

    id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _sent() -> list[sa.ColumnElement[bool]]:
    """A campaign whose sending is over (its run finished) and that was not cancelled."""
    return [
        campaigns.c.status.in_([CampaignStatus.SENDING, CampaignStatus.SENT]),
        campaign_runs.c.finished_at.is_not(None),
        campaign_runs.c.state != RunState.FAILED,
    ]


_COLUMNS = (
    campaigns.c.id,
    campaigns.c.subject,
    campaigns.c.body,
    campaigns.c.updated_at,
    campaigns.c.archive_public,
    campaigns.c.layout,
    campaign_runs.c.started_at,
)


def _archived(row: Any) -> ArchivedCampaign:
    return ArchivedCampaign(
        id=int(row.id),
        subject=str(row.subject),
        body=str(row.body),
        updated_at=row.updated_at,
        sent_at=_aware(row.started_at),
        archive_public=bool(row.archive_public),
        layout=row.layout,
    )


async def _with_variants(
    session: AsyncSession, found: list[ArchivedCampaign]
) -> list[ArchivedCampaign]:
    if not found:
        return found
    query = sa.select(
        campaign_variants.c.campaign_id,
        campaign_variants.c.language,
        campaign_variants.c.subject,
        campaign_variants.c.body,
    ).where(campaign_variants.c.campaign_id.in_([item.id for item in found]))
    variants: dict[int, dict[str, tuple[str, str]]] = {}
    for row in (await session.execute(query)).all():
        variants.setdefault(int(row.campaign_id), {})[str(row.language)] = (row.subject, row.body)
    digests: dict[int, dict[str, str]] = {}
    blocks = (
        sa.select(digest_blocks.c.campaign_id, digest_blocks.c.language, digest_blocks.c.html)
        .where(digest_blocks.c.campaign_id.in_([item.id for item in found]))
        .where(digest_blocks.c.municipality == "")
    )
    for block in (await session.execute(blocks)).all():
        digests.setdefault(int(block.campaign_id), {})[str(block.language)] = str(block.html)
    return [
        replace(item, variants=variants.get(item.id, {}), digest=digests.get(item.id, {}))
        for item in found
    ]


async def get_sent_campaign(session: AsyncSession, campaign_id: int) -> ArchivedCampaign | None:
    """A campaign that has been sent (public or not), or None."""
    query = (
        sa.select(*_COLUMNS)
        .join(campaign_runs, campaign_runs.c.campaign_id == campaigns.c.id)
        .where(campaigns.c.id == campaign_id, *_sent())
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    [found] = await _with_variants(session, [_archived(row)])
    return found


async def get_archive_list(session: AsyncSession, slug: str) -> ArchiveList | None:
    """A public list by slug, or None."""
    query = sa.select(
        mailing_lists.c.id,
        mailing_lists.c.slug,
        mailing_lists.c.name_da,
        mailing_lists.c.name_sv,
        mailing_lists.c.name_en,
    ).where(mailing_lists.c.slug == slug, mailing_lists.c.is_public.is_(True))
    row = (await session.execute(query)).first()
    return None if row is None else ArchiveList(*row)


async def get_public_campaigns_of(
    session: AsyncSession, list_id: int, limit: int
) -> list[ArchivedCampaign]:
    """The list's sent campaigns marked public, newest first."""
    query = (
        sa.select(*_COLUMNS)
        .join(campaign_runs, campaign_runs.c.campaign_id == campaigns.c.id)
        .join(campaign_lists, campaign_lists.c.campaign_id == campaigns.c.id)
        .where(campaign_lists.c.list_id == list_id, campaigns.c.archive_public.is_(True), *_sent())
        .order_by(campaign_runs.c.started_at.desc(), campaigns.c.id.desc())
        .limit(limit)
    )
    return await _with_variants(
        session, [_archived(row) for row in (await session.execute(query)).all()]
    )


async def get_campaign_list_ids(session: AsyncSession, campaign_id: int) -> list[int]:
    """Ids of the lists a campaign went to (what its unsubscribe link leaves)."""
    query = sa.select(campaign_lists.c.list_id).where(campaign_lists.c.campaign_id == campaign_id)
    return sorted(int(list_id) for list_id in (await session.execute(query)).scalars())
