"""Consent records: appended on every request, confirmation and withdrawal."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import (
    consent_events,
    mailing_lists,
    member_sites,
)
from shared.statuses import ConsentEvent as ConsentEventKind


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One consent record, as written and as exported."""

    list_id: int
    event: str
    at: datetime
    source_site_id: int | None
    form: str
    consent_text_version: str | None
    language: str
    ip: str | None


async def insert_consent_events(
    session: AsyncSession, subscriber_id: int, events: Sequence[ConsentEvent]
) -> None:
    """Append consent records."""
    if not events:
        return
    rows = [{"subscriber_id": subscriber_id, **asdict(event)} for event in events]
    await session.execute(sa.insert(consent_events), rows)


async def get_consent_events_of(session: AsyncSession, subscriber_id: int) -> list[dict[str, Any]]:
    """A subscriber's consent records, oldest first, with list slugs and site keys."""
    query = (
        sa.select(
            mailing_lists.c.slug.label("list"),
            consent_events.c.event,
            consent_events.c.at,
            member_sites.c.key.label("source_site"),
            consent_events.c.form,
            consent_events.c.consent_text_version,
            consent_events.c.language,
            consent_events.c.ip,
        )
        .select_from(
            consent_events.join(
                mailing_lists, mailing_lists.c.id == consent_events.c.list_id
            ).outerjoin(member_sites, member_sites.c.id == consent_events.c.source_site_id)
        )
        .where(consent_events.c.subscriber_id == subscriber_id)
        .order_by(consent_events.c.at, consent_events.c.id)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


async def get_latest_requests(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int]
) -> dict[int, ConsentEvent]:
    """The most recent ``requested`` consent event per list among ``list_ids``."""
    query = (
        sa.select(
            consent_events.c.list_id,
            consent_events.c.event,
            consent_events.c.at,
            consent_events.c.source_site_id,
            consent_events.c.form,
            consent_events.c.consent_text_version,
            consent_events.c.language,
            consent_events.c.ip,
        )
        .where(
            consent_events.c.subscriber_id == subscriber_id,
            consent_events.c.list_id.in_(list(list_ids)),
            consent_events.c.event == ConsentEventKind.REQUESTED,
        )
        .order_by(consent_events.c.at, consent_events.c.id)
    )
    # Ordered oldest first, so later rows overwrite earlier ones.
    return {int(row.list_id): ConsentEvent(*row) for row in await session.execute(query)}
