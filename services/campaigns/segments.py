"""Saved segments: rules staff build, name and target campaigns with, and their member counts.

The rule format, its validation and its SQL live in shared.segments, so the mailer evaluates a
campaign's segments at fan-out exactly as they are counted here.
"""

from __future__ import annotations

from typing import Any, Final

from msgspec import UNSET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.errors import N_, Conflict, InvalidInput, NotFound
from services.campaigns.segment_schemas import (
    SegmentCount,
    SegmentCreate,
    SegmentOut,
    SegmentPatch,
    SegmentsOut,
)
from shared.clock import utcnow
from shared.custom_fields import is_clean_text
from shared.segment_sql import Context, members
from shared.segments import Group, InvalidRules, from_builtins, validated
from shared.segments import to_builtins as rules_json
from shared.statuses import CampaignStatus

NAME_MAX: Final = 200
SAMPLE: Final = 25
# A segment these campaigns target is still to be (or being) evaluated by the mailer.
# A subject test still testing or waiting for its winner needs its segments for the rest.
_IN_USE: Final = (
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.TESTING,
    CampaignStatus.PAUSED,
)


async def check_rules(session: AsyncSession, rules: Group) -> Group:
    """The rules with values in stored form; InvalidInput (422) naming each rule's problem."""
    try:
        return validated(rules, await queries.segment_catalog(session))
    except InvalidRules as exc:
        raise InvalidInput(N_("the segment's rules are not valid"), exc.problems) from exc


async def count_rules(session: AsyncSession, rules: Group, sample: int = SAMPLE) -> SegmentCount:
    """How many residents unsaved rules reach now, with the lowest ``sample`` of their ids
    (the app's live count asks for none: finding them may cost as much as the count)."""
    condition = members(await check_rules(session, rules), Context(now=utcnow()))
    total = await queries.count_members(session, condition)
    ids = await queries.sample_members(session, condition, sample) if sample else []
    return SegmentCount(count=total, sample=ids)


async def get_segments(session: AsyncSession) -> SegmentsOut:
    """Every saved segment by name, each with its member count."""
    return SegmentsOut(
        items=[await _out(session, row) for row in await queries.all_segments(session)]
    )


async def get_segment(session: AsyncSession, segment_id: int) -> SegmentOut:
    """One saved segment with its member count."""
    return await _out(session, await _row(session, segment_id))


async def create_segment(session: AsyncSession, data: SegmentCreate, actor: str) -> SegmentOut:
    """Save rules under a new name."""
    name = _name(data.name)
    rules = await check_rules(session, data.rules)
    now = utcnow()
    values = {"name": name, "rules": rules_json(rules), "created_at": now, "updated_at": now}
    try:
        segment_id = await queries.insert_segment(
            session, {**values, "created_by": actor, "updated_by": actor}
        )
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise _taken(name) from exc
    return await get_segment(session, segment_id)


async def update_segment(
    session: AsyncSession, segment_id: int, patch: SegmentPatch, actor: str
) -> SegmentOut:
    """Rename a segment or change its rules."""
    await _row(session, segment_id)
    changes: dict[str, Any] = {"updated_at": utcnow(), "updated_by": actor}
    if patch.name is not UNSET:
        changes["name"] = _name(patch.name)
    if patch.rules is not UNSET:
        changes["rules"] = rules_json(await check_rules(session, patch.rules))
    try:
        if not await queries.update_segment(session, segment_id, changes):
            raise NotFound("segment", segment_id)
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise _taken(str(changes["name"])) from exc
    return await get_segment(session, segment_id)


async def delete_segment(session: AsyncSession, segment_id: int) -> None:
    """Delete a segment no scheduled, sending or paused campaign targets (409 otherwise)."""
    await _row(session, segment_id)
    using = await queries.campaigns_using(session, segment_id, _IN_USE)
    if using:
        raise Conflict(
            N_("the segment is used by a campaign that is scheduled or being sent"),
            {"campaigns": ", ".join(str(campaign_id) for campaign_id in using)},
        )
    await queries.delete_segment(session, segment_id)
    await session.commit()


async def _row(session: AsyncSession, segment_id: int) -> queries.SegmentRow:
    if not 0 < segment_id <= queries.MAX_ID:
        raise NotFound("segment", segment_id)
    row = await queries.segment_by_id(session, segment_id)
    if row is None:
        raise NotFound("segment", segment_id)
    return row


async def _out(session: AsyncSession, row: queries.SegmentRow) -> SegmentOut:
    rules = from_builtins(row.rules)
    count = await queries.count_members(session, members(rules, Context(now=utcnow())))
    return SegmentOut(
        id=row.id,
        name=row.name,
        rules=rules,
        count=count,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > NAME_MAX or not is_clean_text(name) or "\n" in name:
        raise InvalidInput(
            N_("the segment is not valid"),
            {"name": f"must be one line of 1 to {NAME_MAX} characters"},
        )
    return name


def _taken(name: str) -> Conflict:
    return Conflict(N_("a segment with this name exists"), {"name": name})
