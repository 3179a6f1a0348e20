"""Saved segments, the segments campaigns target, and counting a segment's members.

Members are read from the subscriptions service's tables through the rules compiled in
shared.segments; the same compilation decides the mailer's audience at fan-out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import MAX_ID, rowcount
from shared.clock import aware
from shared.schema import (
    campaign_segments,
    campaigns,
    custom_fields,
    mailing_lists,
    member_sites,
    segments,
    subscribers,
)
from shared.segment_sql import CUSTOM_PLANS
from shared.segments import Catalog


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A saved segment; ``rules`` as stored (JSON builtins)."""

    id: int
    name: str
    rules: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


def _segment(row: RowMapping) -> SegmentRow:
    return SegmentRow(
        id=int(row["id"]),
        name=str(row["name"]),
        rules=dict(row["rules"]),
        created_by=str(row["created_by"]),
        created_at=aware(row["created_at"]),
        updated_by=str(row["updated_by"]),
        updated_at=aware(row["updated_at"]),
    )


async def segment_catalog(session: AsyncSession) -> Catalog:
    """What rules may name: list slugs, member site keys, custom field definitions."""
    lists = (await session.execute(sa.select(mailing_lists.c.slug))).scalars().all()
    sites = (await session.execute(sa.select(member_sites.c.key))).scalars().all()
    fields = (
        await session.execute(
            sa.select(custom_fields.c.key, custom_fields.c.type, custom_fields.c.choices)
        )
    ).mappings()
    return Catalog(
        lists=frozenset(str(slug) for slug in lists),
        sites=frozenset(str(key) for key in sites),
        fields={str(row["key"]): dict(row) for row in fields},
    )


async def all_segments(session: AsyncSession) -> list[SegmentRow]:
    """Every saved segment by name."""
    result = await session.execute(sa.select(segments).order_by(segments.c.name))
    return [_segment(row) for row in result.mappings()]


async def segment_by_id(session: AsyncSession, segment_id: int) -> SegmentRow | None:
    """One saved segment, or None."""
    result = await session.execute(sa.select(segments).where(segments.c.id == segment_id))
    row = result.mappings().first()
    return _segment(row) if row is not None else None


async def segment_ids_by_id(session: AsyncSession, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` that name a saved segment."""
    # Numbers beyond a BIGINT name no row; the driver would refuse them instead of finding none.
    ids = [value for value in ids if 0 < value <= MAX_ID]
    if not ids:
        return set()
    result = await session.execute(sa.select(segments.c.id).where(segments.c.id.in_(ids)))
    return {int(value) for value in result.scalars()}


async def insert_segment(session: AsyncSession, values: Mapping[str, Any]) -> int:
    """Store a new segment; return its id (IntegrityError when the name is taken)."""
    result = await session.execute(sa.insert(segments).values(**values).returning(segments.c.id))
    return int(result.scalar_one())


async def update_segment(session: AsyncSession, segment_id: int, values: Mapping[str, Any]) -> bool:
    """Change a segment; False when it does not exist."""
    result = await session.execute(
        sa.update(segments).where(segments.c.id == segment_id).values(**values)
    )
    return rowcount(result) == 1


async def delete_segment(session: AsyncSession, segment_id: int) -> bool:
    """Delete a segment (drafts lose it from their targets); False when it does not exist."""
    result = await session.execute(sa.delete(segments).where(segments.c.id == segment_id))
    return rowcount(result) == 1


async def campaigns_using(
    session: AsyncSession, segment_id: int, statuses: Sequence[str]
) -> list[int]:
    """Ids of campaigns in one of ``statuses`` that target the segment."""
    result = await session.execute(
        sa.select(campaign_segments.c.campaign_id)
        .join(campaigns, campaigns.c.id == campaign_segments.c.campaign_id)
        .where(campaign_segments.c.segment_id == segment_id, campaigns.c.status.in_(statuses))
        .order_by(campaign_segments.c.campaign_id)
    )
    return [int(value) for value in result.scalars()]


async def segments_of(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, list[int]]:
    """The segment ids each campaign targets (every id of ``campaign_ids`` is a key)."""
    found: dict[int, list[int]] = {campaign_id: [] for campaign_id in campaign_ids}
    if not campaign_ids:
        return found
    result = await session.execute(
        sa.select(campaign_segments.c.campaign_id, campaign_segments.c.segment_id)
        .where(campaign_segments.c.campaign_id.in_(campaign_ids))
        .order_by(campaign_segments.c.campaign_id, campaign_segments.c.segment_id)
    )
    for campaign_id, segment_id in result.all():
        found[int(campaign_id)].append(int(segment_id))
    return found


async def set_campaign_segments(
    session: AsyncSession, campaign_id: int, segment_ids: Sequence[int]
) -> None:
    """Make ``segment_ids`` the campaign's segments."""
    await session.execute(
        sa.delete(campaign_segments).where(campaign_segments.c.campaign_id == campaign_id)
    )
    if segment_ids:
        await session.execute(
            sa.insert(campaign_segments),
            [{"campaign_id": campaign_id, "segment_id": s} for s in segment_ids],
        )


async def count_members(session: AsyncSession, condition: sa.ColumnElement[bool]) -> int:
    """How many subscribers meet ``condition`` (shared.segment_sql.members: eligible ones)."""
    if session.get_bind().dialect.name == "postgresql":
        # Compiling the plan to machine code costs more than it saves on a count that takes
        # well under a second without it (bench/segments.py); for this transaction only.
        await session.execute(sa.text("SET LOCAL jit = off"))
        await session.execute(CUSTOM_PLANS)
    total = await session.scalar(
        sa.select(sa.func.count()).select_from(subscribers).where(condition)
    )
    return int(total or 0)


async def sample_members(
    session: AsyncSession, condition: sa.ColumnElement[bool], limit: int
) -> list[int]:
    """The lowest ``limit`` ids of subscribers who meet ``condition``."""
    ids = await session.execute(
        sa.select(subscribers.c.id).where(condition).order_by(subscribers.c.id).limit(limit)
    )
    return [int(value) for value in ids.scalars()]
