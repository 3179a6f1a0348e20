"""Consent records: appended on every request, confirmation and withdrawal."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import (
    consent_events,
    mailing_lists,
    member_sites,
)
from shared.statuses import ConsentEvent


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent record as written: what happened on which list, when and where."""

    list_id: int
    event: ConsentEvent
    at: datetime
    source_site_id: int | None
    form: str
    consent_text_version: str | None
    language: str
    ip: str | None
    # "resident", or "guardian" for a minor (None: the resident, as before youth lists).
    consented_by: str | None = None


async def insert_consent_events(
    session: AsyncSession, subscriber_id: int, records: Sequence[ConsentRecord]
) -> None:
    """Append consent records."""
    if not records:
        return
    rows = [{"subscriber_id": subscriber_id, **asdict(record)} for record in records]
    await session.execute(sa.insert(consent_events), rows)


@dataclass(frozen=True, slots=True)
class ConsentHistoryRow:
    """One consent record as an export shows it: by list slug and site key."""

    list_slug: str
    event: str
    at: datetime
    site_key: str | None
    form: str
    consent_text_version: str | None
    language: str
    ip: str | None
    consented_by: str | None = None


async def get_consent_events_of(
    session: AsyncSession, subscriber_id: int
) -> list[ConsentHistoryRow]:
    """A subscriber's consent records, oldest first, with list slugs and site keys."""
    query = (
        sa.select(
            mailing_lists.c.slug,
            consent_events.c.event,
            consent_events.c.at,
            member_sites.c.key,
            consent_events.c.form,
            consent_events.c.consent_text_version,
            consent_events.c.language,
            consent_events.c.ip,
            consent_events.c.consented_by,
        )
        .select_from(
            consent_events.join(
                mailing_lists, mailing_lists.c.id == consent_events.c.list_id
            ).outerjoin(member_sites, member_sites.c.id == consent_events.c.source_site_id)
        )
        .where(consent_events.c.subscriber_id == subscriber_id)
        .order_by(consent_events.c.at, consent_events.c.id)
    )
    return [ConsentHistoryRow(*row) for row in await session.execute(query)]


async def get_latest_requests(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int]
) -> dict[int, ConsentRecord]:
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
            consent_events.c.consented_by,
        )
        .where(
            consent_events.c.subscriber_id == subscriber_id,
            consent_events.c.list_id.in_(list(list_ids)),
            consent_events.c.event == ConsentEvent.REQUESTED,
        )
        .order_by(consent_events.c.at, consent_events.c.id)
    )
    # Ordered oldest first, so later rows overwrite earlier ones.
    return {
        int(row.list_id): ConsentRecord(
            list_id=int(row.list_id),
            event=ConsentEvent(row.event),
            at=row.at,
            source_site_id=row.source_site_id,
            form=row.form,
            consent_text_version=row.consent_text_version,
            language=row.language,
            ip=row.ip,
            consented_by=row.consented_by,
        )
        for row in await session.execute(query)
    }
