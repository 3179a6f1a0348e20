"""Who is on the lists: subscriptions by state, growth per day, and subscribers staff look up.

Read-only: the subscriptions service owns these tables (and the mailer the deliveries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.stats import _utc_day
from shared.clock import aware
from shared.schema import (
    campaigns,
    consent_events,
    deliveries,
    mailing_lists,
    member_sites,
    subscribers,
    subscriptions,
)
from shared.statuses import ConsentEvent, SubscriberStatus


def _state() -> sa.ColumnElement[Any]:
    # A bounced address gets no mail at all: its subscriptions count as bounced, not as the
    # state the resident left them in.
    return sa.case(
        (subscribers.c.status == SubscriberStatus.BOUNCED, sa.literal("bounced")),
        else_=subscriptions.c.status,
    )


async def state_counts(
    session: AsyncSession, list_id: int | None = None
) -> dict[int, dict[str, int]]:
    """Subscriptions per list by state (pending, confirmed, unsubscribed, bounced), in one query."""
    state = _state()
    query = (
        sa.select(subscriptions.c.list_id, state, sa.func.count())
        .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
        .group_by(subscriptions.c.list_id, state)
    )
    if list_id is not None:
        query = query.where(subscriptions.c.list_id == list_id)
    counts: dict[int, dict[str, int]] = {}
    for found_list, found_state, number in (await session.execute(query)).all():
        counts.setdefault(int(found_list), {})[str(found_state)] = int(number)
    return counts


async def consent_changes_per_day(
    session: AsyncSession, list_id: int, since: datetime
) -> dict[date, tuple[int, int]]:
    """Confirmations and withdrawals on a list per UTC day since ``since``."""
    day = _utc_day(session, consent_events.c.at)
    event = consent_events.c.event
    result = await session.execute(
        sa.select(
            day,
            sa.func.sum(sa.case((event == ConsentEvent.CONFIRMED, 1), else_=0)),
            sa.func.sum(sa.case((event == ConsentEvent.WITHDRAWN, 1), else_=0)),
        )
        .where(
            consent_events.c.list_id == list_id,
            consent_events.c.at >= since,
            event.in_([ConsentEvent.CONFIRMED, ConsentEvent.WITHDRAWN]),
        )
        .group_by(day)
    )
    return {
        date.fromisoformat(str(found_day)): (int(confirmed or 0), int(withdrawn or 0))
        for found_day, confirmed, withdrawn in result.all()
    }


# --- subscribers --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriberHit:
    """One search result."""

    id: int
    email: str
    name: str | None
    language: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """One subscriber as staff see it; the source site by name."""

    id: int
    email: str
    name: str | None
    language: str
    status: str
    municipality: str | None
    custom_values: dict[str, Any]
    source_site: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MembershipRow:
    """One of a subscriber's lists and its state there."""

    slug: str
    name_da: str
    name_sv: str
    name_en: str
    state: str
    requested_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConsentRow:
    """One event of a subscriber's consent history."""

    at: datetime
    slug: str
    event: str
    form: str
    language: str
    source_site: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A subscriber's copy of one campaign in the mailer's ledger."""

    campaign_id: int
    subject: str
    status: str
    at: datetime
    last_code: int | None
    last_response: str | None


def _ordered(session: AsyncSession, expression: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    # On PostgreSQL the search indexes carry the "C" collation (migration 0013): comparisons
    # and ordering must name it to use them. SQLite's BINARY order is the same order.
    if session.get_bind().dialect.name == "postgresql":
        return expression.collate("C")
    return expression


def _escaped(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix_match(
    session: AsyncSession, expression: sa.ColumnElement[Any], prefix: str
) -> sa.ColumnElement[Any]:
    """``expression`` starts with ``prefix`` (taken literally), in a form an index serves.

    The range gives the index scan on both databases, also in prepared statements whose
    parameters the planner does not see; LIKE, with the input's ``%``, ``_`` and ``\\``
    escaped, states the meaning.
    """
    ordered = _ordered(session, expression)
    return sa.and_(
        ordered >= prefix,
        ordered < _next_prefix(prefix),
        expression.like(_escaped(prefix) + "%", escape="\\"),
    )


def _next_prefix(prefix: str) -> str:
    """The least string after every string that starts with ``prefix`` (code point order)."""
    chars = list(prefix)
    while chars and chars[-1] == "\U0010ffff":
        chars.pop()
    if not chars:
        return "\U0010ffff" * (len(prefix) + 1)
    chars[-1] = chr(ord(chars[-1]) + 1)
    if 0xD800 <= ord(chars[-1]) <= 0xDFFF:  # surrogates cannot be stored: skip past them
        chars[-1] = "\ue000"
    return "".join(chars)


_HIT_COLUMNS = (
    subscribers.c.id,
    subscribers.c.email,
    subscribers.c.name,
    subscribers.c.language,
    subscribers.c.status,
    subscribers.c.created_at,
)


def _hit(row: Any) -> SubscriberHit:
    return SubscriberHit(
        id=int(row.id),
        email=str(row.email),
        name=row.name,
        language=str(row.language),
        status=str(row.status),
        created_at=aware(row.created_at),
    )


async def subscribers_by_key_prefix(
    session: AsyncSession, prefix: str, after_id: int | None, limit: int
) -> list[SubscriberHit]:
    """Subscribers whose identity key starts with ``prefix``, in key order, after ``after_id``."""
    key = subscribers.c.email_key
    query = sa.select(*_HIT_COLUMNS).where(_prefix_match(session, key, prefix))
    if after_id is not None:
        after = await session.scalar(sa.select(key).where(subscribers.c.id == after_id))
        if after is None:  # the row the page ended on is gone (erased): start again
            return []
        query = query.where(_ordered(session, key) > after)
    result = await session.execute(query.order_by(_ordered(session, key)).limit(limit))
    return [_hit(row) for row in result]


async def subscribers_by_name_prefix(
    session: AsyncSession, prefix: str, after_id: int | None, limit: int
) -> list[SubscriberHit]:
    """Subscribers whose lower-case name starts with ``prefix``, by name then id."""
    name = sa.func.lower(subscribers.c.name)
    query = sa.select(*_HIT_COLUMNS).where(_prefix_match(session, name, prefix))
    if after_id is not None:
        after = await session.scalar(sa.select(name).where(subscribers.c.id == after_id))
        if after is None:
            return []
        query = query.where(
            sa.tuple_(_ordered(session, name), subscribers.c.id)
            > sa.tuple_(sa.literal(after), sa.literal(after_id))
        )
    result = await session.execute(
        query.order_by(_ordered(session, name), subscribers.c.id).limit(limit)
    )
    return [_hit(row) for row in result]


async def subscriber_by_id(session: AsyncSession, subscriber_id: int) -> SubscriberRow | None:
    """One subscriber with the name of the site it came through."""
    result = await session.execute(
        sa.select(subscribers, member_sites.c.name.label("site_name"))
        .outerjoin(member_sites, member_sites.c.id == subscribers.c.source_site_id)
        .where(subscribers.c.id == subscriber_id)
    )
    row = result.mappings().first()
    if row is None:
        return None
    return SubscriberRow(
        id=int(row["id"]),
        email=str(row["email"]),
        name=row["name"],
        language=str(row["language"]),
        status=str(row["status"]),
        municipality=row["municipality"],
        custom_values=dict(row["custom_values"] or {}),
        source_site=row["site_name"],
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
    )


async def memberships(session: AsyncSession, subscriber_id: int) -> list[MembershipRow]:
    """A subscriber's lists with the state on each (bounced when the address bounced)."""
    result = await session.execute(
        sa.select(
            mailing_lists.c.slug,
            mailing_lists.c.name_da,
            mailing_lists.c.name_sv,
            mailing_lists.c.name_en,
            _state().label("state"),
            subscriptions.c.requested_at,
            subscriptions.c.confirmed_at,
            subscriptions.c.unsubscribed_at,
        )
        .join(mailing_lists, mailing_lists.c.id == subscriptions.c.list_id)
        .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
        .where(subscriptions.c.subscriber_id == subscriber_id)
        .order_by(mailing_lists.c.slug)
    )
    return [
        MembershipRow(
            slug=str(row.slug),
            name_da=str(row.name_da),
            name_sv=str(row.name_sv),
            name_en=str(row.name_en),
            state=str(row.state),
            requested_at=aware(row.requested_at),
            confirmed_at=aware(row.confirmed_at) if row.confirmed_at else None,
            unsubscribed_at=aware(row.unsubscribed_at) if row.unsubscribed_at else None,
        )
        for row in result
    ]


async def consent_history(
    session: AsyncSession, subscriber_id: int, limit: int
) -> list[ConsentRow]:
    """A subscriber's consent events, newest first."""
    result = await session.execute(
        sa.select(
            consent_events.c.at,
            mailing_lists.c.slug,
            consent_events.c.event,
            consent_events.c.form,
            consent_events.c.language,
            member_sites.c.name.label("site_name"),
        )
        .join(mailing_lists, mailing_lists.c.id == consent_events.c.list_id)
        .outerjoin(member_sites, member_sites.c.id == consent_events.c.source_site_id)
        .where(consent_events.c.subscriber_id == subscriber_id)
        .order_by(consent_events.c.at.desc(), consent_events.c.id.desc())
        .limit(limit)
    )
    return [
        ConsentRow(
            at=aware(row.at),
            slug=str(row.slug),
            event=str(row.event),
            form=str(row.form),
            language=str(row.language),
            source_site=row.site_name,
        )
        for row in result
    ]


async def recent_deliveries(
    session: AsyncSession, subscriber_id: int, limit: int
) -> list[DeliveryRow]:
    """A subscriber's copies of the latest campaigns, newest first."""
    result = await session.execute(
        sa.select(
            deliveries.c.campaign_id,
            campaigns.c.subject,
            deliveries.c.status,
            sa.func.coalesce(deliveries.c.sent_at, deliveries.c.updated_at).label("at"),
            deliveries.c.last_code,
            deliveries.c.last_response,
        )
        .join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
        .where(deliveries.c.subscriber_id == subscriber_id)
        .order_by(deliveries.c.campaign_id.desc())
        .limit(limit)
    )
    return [
        DeliveryRow(
            campaign_id=int(row.campaign_id),
            subject=str(row.subject),
            status=str(row.status),
            at=aware(row.at),
            last_code=row.last_code,
            last_response=row.last_response,
        )
        for row in result
    ]
